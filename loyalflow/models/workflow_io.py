"""Inputs and outputs of workflows and activities. No PII: contact details stay in the database."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from loyalflow.models.journey import Journey, QuietWindow


class MemberEvent(BaseModel):
    """An event as a running journey sees it (signal payload and trigger)."""

    event_id: str
    type: str
    occurred_at: datetime
    properties: dict[str, Any] = Field(default_factory=dict)


class TrailEntry(BaseModel):
    at: datetime
    step: str
    outcome: str
    detail: str | None = None


class Resume(BaseModel):
    """What a run hands to its continuation (continue-as-new keeps history small)."""

    step: str
    entered_at: datetime
    variant: str | None = None
    converted: bool = False
    trail: list[TrailEntry] = Field(default_factory=list)
    seen_events: list[str] = Field(default_factory=list)
    run: int = 1


class JourneyInput(BaseModel):
    journey: Journey
    member_id: str
    entry: int = 1
    trigger: MemberEvent
    # Set by the router from the definition it published; older inputs recompute it.
    version: str | None = None
    resume: Resume | None = None
    # History bound: a run that executed this many steps continues as new (sooner if the
    # server suggests it).
    max_steps_per_run: int = 500


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
    variant: str | None = None
    converted_at: datetime | None = None
    goal_event_id: str | None = None


class ProgressBatch(BaseModel):
    updates: list[ProgressUpdate]


class MemberFactsRequest(BaseModel):
    member_id: str
    fields: list[str]


class MemberFacts(BaseModel):
    """The member fields a condition or a wait reads. Never contact details."""

    found: bool
    values: dict[str, Any] = Field(default_factory=dict)


class AssignmentRequest(BaseModel):
    experiment: str
    member_id: str
    variant: str  # the hash's choice; a variant recorded earlier wins if it still exists
    variants: list[str]


class UpdateRequest(BaseModel):
    event_id: str  # decided in the workflow: a retried update applies once
    member_id: str
    occurred_at: datetime
    journey_id: str
    step_id: str
    award_points: int | None = None
    set: dict[str, Any] | None = None
    add_tag: str | None = None


class ExitRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=200)
    by: str = Field(min_length=1, max_length=100)


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
    # For templates: the properties of the event that started the journey (amounts, tiers, never
    # contact details) and the send step's own `params` (e.g. the bonus points it announces).
    trigger: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    quiet_hours: QuietWindow | None = None  # the journey's own, replacing the program's


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
    """A sweep: inactivity buckets (emits `member.inactive`), or a segment-triggered journey
    (starts it for matching members). `as_of` is fixed on the first run so every page uses the
    same clock."""

    buckets_days: list[int] = Field(default_factory=list)
    journey_id: str | None = None
    # The points expiry sweep: `buckets_days` are then the reminder days (`points.expiring`).
    points_expiry: bool = False
    requalification: bool = False  # the tier requalification sweep
    as_of: datetime | None = None
    after_member_id: str | None = None
    emitted: int = 0
    scanned: int = 0
    page_size: int = 500


class SweepPageRequest(BaseModel):
    as_of: datetime
    buckets_days: list[int] = Field(default_factory=list)
    journey_id: str | None = None
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
