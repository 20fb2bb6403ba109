"""Inputs and outputs of workflows and activities. No PII: contact details stay in the database."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from loyalflow.models.journey import Journey


class MemberEvent(BaseModel):
    """An event as a running journey sees it (signal payload and trigger)."""

    event_id: str
    type: str
    occurred_at: datetime
    properties: dict[str, Any] = Field(default_factory=dict)


class JourneyInput(BaseModel):
    journey: Journey
    member_id: str
    entry: int = 1
    trigger: MemberEvent


class TrailEntry(BaseModel):
    at: datetime
    step: str
    outcome: str
    detail: str | None = None


class JourneyResult(BaseModel):
    exit_reason: str
    trail: list[TrailEntry]


class ProgressUpdate(BaseModel):
    workflow_id: str
    journey_id: str
    journey_version: str
    member_id: str
    entry: int
    trigger_event_id: str | None
    at: datetime
    entering: bool = False
    current_step: str | None = None
    exit_reason: str | None = None


class SendRequest(BaseModel):
    message_id: str
    workflow_id: str
    journey_id: str
    step_id: str
    member_id: str
    channel: Literal["email", "sms"]
    template: str
    topic: str
    # When the step first asked for this message (workflow time): deferrals expire from here.
    due_at: datetime
    variant: str | None = None


SendStatus = Literal["sent", "skipped", "failed", "deferred"]


class AbandonRequest(BaseModel):
    message_id: str
    reason: str


class SendResult(BaseModel):
    message_id: str
    status: SendStatus
    reason: str | None = None
    provider_id: str | None = None
    subject: str | None = None
    retry_at: datetime | None = None  # for `deferred`: ask again at this time
    fallback_ok: bool = False  # for `skipped`: another channel may still reach the member


class SweepInput(BaseModel):
    """Inactivity sweep. `as_of` is fixed on the first run so every page uses the same clock."""

    buckets_days: list[int]
    as_of: datetime | None = None
    after_member_id: str | None = None
    emitted: int = 0
    scanned: int = 0
    page_size: int = 500


class SweepPageRequest(BaseModel):
    as_of: datetime
    buckets_days: list[int]
    after_member_id: str | None
    limit: int


class SweepPage(BaseModel):
    scanned: int
    emitted: int
    next_member_id: str | None


class SweepResult(BaseModel):
    as_of: datetime
    scanned: int
    emitted: int
