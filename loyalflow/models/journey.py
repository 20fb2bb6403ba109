"""The journey language: pydantic models for journeys/*.yaml.

Workflow code imports this module, so it must stay free of I/O (no files, no database).
"""

import hashlib
import json
import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

# Events a client may post. Derived events are computed by loyalflow itself.
INGESTED_EVENT_TYPES = (
    "member.joined",
    "purchase",
    "visit",
    "points.adjusted",
    "consent.updated",
    "profile.updated",
)
DERIVED_EVENT_TYPES = ("purchase.first", "tier.upgraded", "tier.downgraded", "member.inactive")
EVENT_TYPES = INGESTED_EVENT_TYPES + DERIVED_EVENT_TYPES

_DURATION_PART = re.compile(r"(\d+)\s*(w|d|h|m|s)")
_DURATION = re.compile(r"^\s*(\d+\s*[wdhms]\s*)+$")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: object) -> object:
    """Accept marketer-friendly durations such as `3d`, `1d12h`, `90m` (and ISO 8601 via pydantic)."""
    if isinstance(value, str) and _DURATION.match(value):
        seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value))
        return timedelta(seconds=seconds)
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
StepId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
EventType = Literal[
    "member.joined",
    "purchase",
    "visit",
    "points.adjusted",
    "consent.updated",
    "profile.updated",
    "purchase.first",
    "tier.upgraded",
    "tier.downgraded",
    "member.inactive",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SendStep(_Strict):
    kind: Literal["send"]
    id: StepId
    channel: Literal["email", "sms"]
    template: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    # Tried when the first channel cannot reach the member (no contact, no consent, suppressed).
    fallback: Literal["email", "sms"] | None = None

    @model_validator(mode="after")
    def _distinct_fallback(self) -> "SendStep":
        if self.fallback == self.channel:
            raise ValueError("fallback must be the other channel")
        return self

    @property
    def channels(self) -> tuple[Literal["email", "sms"], ...]:
        return (self.channel,) if self.fallback is None else (self.channel, self.fallback)


class WaitStep(_Strict):
    kind: Literal["wait"]
    id: StepId
    duration: Duration

    @model_validator(mode="after")
    def _positive(self) -> "WaitStep":
        if self.duration <= timedelta(0):
            raise ValueError("duration must be positive")
        return self


class ExitStep(_Strict):
    kind: Literal["exit"]
    id: StepId
    reason: str = "completed"


Step = Annotated[SendStep | WaitStep | ExitStep, Field(discriminator="kind")]


class Trigger(_Strict):
    event: EventType


class ExitWhen(_Strict):
    event: EventType


class Journey(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    name: str
    trigger: Trigger
    re_entry: Literal["never"] = "never"
    exit_when: tuple[ExitWhen, ...] = ()
    topic: str = "marketing"
    steps: Annotated[tuple[Step, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_step_ids(self) -> "Journey":
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice")
            seen.add(step.id)
        return self

    def exits_on(self, event_type: str) -> bool:
        return any(rule.event == event_type for rule in self.exit_when)

    @property
    def version(self) -> str:
        """Content hash: a changed definition is a new version; runs in flight keep theirs."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def workflow_id(self, member_id: str) -> str:
        return f"journey-{self.id}-{member_id}"
