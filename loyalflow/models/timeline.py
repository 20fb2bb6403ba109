"""Shapes of a member's timeline and of `member explain` (API responses and `--json` output)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

EntryKind = Literal[
    "event",  # anything the member did (join, purchase, visit...)
    "points",  # points earned, lost or adjusted
    "tier",  # tier.upgraded / tier.downgraded
    "consent",  # a consent decision (granted / revoked)
    "suppression",  # an address that must never be contacted again
    "journey_entered",
    "journey_step",
    "journey_exited",
    "goal",  # a journey's conversion
    "message",  # a message sent (or failed, bounced, delivered, in flight)
    "not_sent",  # a message not sent, with its reason (skipped, deferred, holdout)
    "support",  # what support staff did, and who
]


class TimelineEntry(BaseModel):
    at: datetime
    kind: EntryKind
    summary: str  # one line in plain words
    journey_id: str | None = None
    workflow_id: str | None = None
    step_id: str | None = None
    message_id: str | None = None
    channel: str | None = None
    status: str | None = None
    reason: str | None = None
    variant: str | None = None
    event_id: str | None = None
    by: str | None = None
    link: str | None = None  # the run in the Temporal Web UI


class TimelineRun(BaseModel):
    workflow_id: str
    journey_id: str
    entry: int
    entered_at: datetime
    exited_at: datetime | None
    exit_reason: str | None
    current_step: str | None
    variant: str | None
    link: str


class Timeline(BaseModel):
    member_id: str
    points: int
    tier: str | None
    runs: list[TimelineRun]
    entries: list[TimelineEntry]  # oldest first


class Explanation(BaseModel):
    member_id: str
    journey_id: str
    state: Literal["running", "finished", "never_entered", "no_such_member", "no_such_journey"]
    text: str  # plain words, for support staff
    workflow_id: str | None = None
    current_step: str | None = None
    next_step: str | None = None
    link: str | None = None
