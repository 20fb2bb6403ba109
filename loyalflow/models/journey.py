"""The journey language: pydantic models for journeys/*.yaml.

A journey is a list of steps. Each step goes on to the step below it unless it names another
(`next`, or the targets of `branch`, `split` and `wait_for`); the last step ends the journey.
Loading checks the shape here; `loyalflow.catalog.checks` checks the graph and the templates.

Workflow code imports this module, so it must stay free of I/O (no files, no database).
One concern, kept in one module: the language's shapes (steps, trigger, rules, durations) read
best side by side, as the reference a journey author checks against.
"""

import hashlib
import json
from collections.abc import Mapping
from datetime import time, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from loyalflow.models.conditions import ConditionText, SegmentConditionText
from loyalflow.models.durations import (
    Duration,
    _positive,
    parse_duration,
)
from loyalflow.models.event_types import (
    EventType,
)

# A step may go to `end`: the journey is complete (no step may be called that).
END = "end"

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _one_line(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


StepId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Flow(_Strict):
    """A step that goes on to one step: `next`, or the step below it."""

    next: StepId | None = None


class SendStep(_Flow):
    kind: Literal["send"]
    id: StepId
    channel: Literal["email", "sms"]
    template: Name
    # Tried when the first channel cannot reach the member (no contact, no consent, suppressed).
    fallback: Literal["email", "sms"] | None = None
    # Values the template reads as `params.*` (e.g. the bonus points it announces).
    params: dict[Name, Scalar] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _distinct_fallback(self) -> "SendStep":
        if self.fallback == self.channel:
            raise ValueError("fallback must be the other channel")
        return self

    @property
    def channels(self) -> tuple[Literal["email", "sms"], ...]:
        return (self.channel,) if self.fallback is None else (self.channel, self.fallback)


class WaitStep(_Flow):
    """Waits for a duration, then (optionally) until a local time of day on allowed weekdays;
    or until a date attribute of the member plus an offset. Times are in the member's timezone."""

    kind: Literal["wait"]
    id: StepId
    duration: Annotated[Duration, BeforeValidator(parse_duration)] | None = None
    at: time | None = None
    on_days: tuple[Weekday, ...] | None = None
    until_date: (
        Annotated[str, Field(pattern=r"^member\.(attributes\.)?[a-z_][a-z0-9_]*$")] | None
    ) = None
    offset: Duration = timedelta(0)
    each_year: bool = False  # for birthdays and anniversaries: the next yearly occurrence

    @model_validator(mode="after")
    def _one_kind_of_wait(self) -> "WaitStep":
        if self.until_date is None:
            if self.duration is None and self.at is None:
                raise ValueError("a wait needs a `duration`, an `at` time, or `until_date`")
            if self.on_days is not None and self.at is None:
                raise ValueError("`on_days` needs an `at` time of day")
            if self.offset or self.each_year:
                raise ValueError("`offset` and `each_year` go with `until_date`")
        elif self.duration is not None or self.on_days is not None:
            raise ValueError("`until_date` cannot be combined with `duration` or `on_days`")
        if self.duration is not None and self.duration <= timedelta(0):
            raise ValueError("duration must be positive")
        if self.on_days is not None and not self.on_days:
            raise ValueError("`on_days` must name at least one day")
        return self

    @property
    def needs_member_clock(self) -> bool:
        """True when the wait depends on the member's timezone or attributes."""
        return self.at is not None or self.until_date is not None


class WaitForStep(_Strict):
    """Waits for an event (optionally matching a condition) or a timeout, whichever is first."""

    kind: Literal["wait_for"]
    id: StepId
    event: EventType
    condition: ConditionText | None = None
    timeout: Annotated[Duration, BeforeValidator(parse_duration)]
    on_event: StepId | None = None  # default: the step below
    on_timeout: StepId | None = None  # default: the step below

    @model_validator(mode="after")
    def _positive_timeout(self) -> "WaitForStep":
        _positive(self.timeout)
        return self


class BranchCase(_Strict):
    when: ConditionText
    next: StepId


class BranchStep(_Strict):
    """Ordered conditions on the member (and trigger event): the first that holds wins."""

    kind: Literal["branch"]
    id: StepId
    branches: Annotated[tuple[BranchCase, ...], Field(min_length=1)]
    default: StepId | None = None  # default: the step below


class Variant(_Strict):
    name: Name
    weight: Annotated[int, Field(ge=1, le=100)]
    next: StepId | None = None  # default: the step below


class SplitStep(_Strict):
    """A/B/n test. Weights are percentages and, with the holdout, sum to 100. The holdout group
    receives nothing (the journey ends for them) and is the baseline of the results."""

    kind: Literal["split"]
    id: StepId
    experiment: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.]*$", max_length=128)] | None = None
    variants: Annotated[tuple[Variant, ...], Field(min_length=1)]
    holdout: Annotated[int, Field(ge=1, le=99)] | None = None

    @model_validator(mode="after")
    def _weights(self) -> "SplitStep":
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be unique")
        if "holdout" in names:
            raise ValueError("`holdout` is reserved for the holdout group")
        total = sum(v.weight for v in self.variants) + (self.holdout or 0)
        if total != 100:
            raise ValueError(f"weights (with the holdout) must sum to 100, not {total}")
        return self

    @property
    def groups(self) -> tuple[tuple[str, int], ...]:
        """(name, weight) in a fixed order, the holdout last."""
        listed = tuple((v.name, v.weight) for v in self.variants)
        return listed + ((("holdout", self.holdout),) if self.holdout else ())


class UpdateStep(_Flow):
    """Changes the member through an event, like every other change (idempotent by event id)."""

    kind: Literal["update"]
    id: StepId
    award_points: int | None = None
    set: dict[Name, Scalar] | None = None  # custom attributes
    add_tag: Name | None = None

    @model_validator(mode="after")
    def _something(self) -> "UpdateStep":
        if self.award_points is None and not self.set and self.add_tag is None:
            raise ValueError("an update needs `award_points`, `set` or `add_tag`")
        if self.award_points == 0:
            raise ValueError("award_points must not be 0")
        return self


class ExitStep(_Strict):
    kind: Literal["exit"]
    id: StepId
    reason: Annotated[str, BeforeValidator(_one_line), Field(min_length=1, max_length=100)] = (
        "completed"
    )


Step = Annotated[
    SendStep | WaitStep | WaitForStep | BranchStep | SplitStep | UpdateStep | ExitStep,
    Field(discriminator="kind"),
]
STEP_KINDS = ("send", "wait", "wait_for", "branch", "split", "update", "exit")


class Trigger(_Strict):
    """An event (with an optional condition), or a segment condition swept on a schedule."""

    event: EventType | None = None
    condition: ConditionText | None = None
    segment: SegmentConditionText | None = None
    schedule: str | None = None  # cron, UTC; default daily at 03:00

    @model_validator(mode="after")
    def _event_or_segment(self) -> "Trigger":
        if (self.event is None) == (self.segment is None):
            raise ValueError("a trigger has either an `event` or a `segment`")
        if self.segment is not None and self.condition is not None:
            raise ValueError("a segment trigger's condition is the `segment` itself")
        if self.event is not None and self.schedule is not None:
            raise ValueError("`schedule` goes with `segment`")
        if self.schedule is not None and len(self.schedule.split()) != 5:
            raise ValueError("schedule must be a 5-field cron expression, e.g. '0 3 * * *'")
        return self

    @property
    def cron(self) -> str:
        return self.schedule or "0 3 * * *"


class EventRule(_Strict):
    """An event type and an optional condition on its properties (`event.*`)."""

    event: EventType
    condition: ConditionText | None = None


class Goal(EventRule):
    within: Annotated[Duration, BeforeValidator(parse_duration)] = timedelta(days=30)


def _re_entry_shorthand(value: object) -> object:
    return {"policy": value} if isinstance(value, str) else value


class ReEntry(_Strict):
    """`never`: once per member. `after_exit`: again once the previous entry has ended.
    `always`: every trigger starts an entry, even while another runs. `cooldown` spaces entries
    (from the previous exit for after_exit, from the previous entry for always)."""

    policy: Literal["never", "after_exit", "always"] = "never"
    cooldown: Annotated[Duration, BeforeValidator(parse_duration)] | None = None


class QuietWindow(_Strict):
    """Local times (member's timezone) when a channel stays silent; start = end: never."""

    start: time
    end: time


class Journey(_Strict):
    id: Name
    name: str
    description: str | None = None
    trigger: Trigger
    re_entry: Annotated[ReEntry, BeforeValidator(_re_entry_shorthand)] = ReEntry()
    exit_when: tuple[EventRule, ...] = ()
    goal: Goal | None = None
    # The consent topic (messaging.yaml): which members may be contacted, on which channel.
    topic: str
    # Replaces the program's quiet hours (messaging.yaml) for this journey's messages.
    quiet_hours: dict[Literal["email", "sms"], QuietWindow] | None = None
    steps: Annotated[tuple[Step, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_step_ids(self) -> "Journey":
        seen: set[str] = set()
        for step in self.steps:
            if step.id == END:
                raise ValueError(f"{END!r} is reserved (`next: {END}` ends the journey)")
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice")
            seen.add(step.id)
        return self

    @cached_property
    def version(self) -> str:
        """Content hash: a changed definition is a new version; runs in flight keep theirs.

        Cached: the router asks for it several times per event, and a frozen model's content
        cannot change (`model_copy` below drops the cached value along with the old content)."""
        canonical = json.dumps(
            self.model_dump(mode="json", exclude_defaults=True),
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("version", None)
        return copy

    def workflow_id(self, member_id: str, entry: int = 1) -> str:
        # Member ids never contain '#', so entry 2 of one member cannot collide with another's.
        base = f"journey-{self.id}-{member_id}"
        return base if entry == 1 else f"{base}#{entry}"

    def after(self, step_id: str) -> str | None:
        """The step below `step_id` (None: the end of the journey)."""
        ids = [step.id for step in self.steps]
        index = ids.index(step_id)
        return ids[index + 1] if index + 1 < len(ids) else None

    def exits(self, step: "Step") -> list[tuple[str, str | None]]:
        """Each way out of `step` as (label, target step id); None ends the journey."""
        return [(label, None if t == END else t) for label, t in self._exits(step)]

    def _exits(self, step: "Step") -> list[tuple[str, str | None]]:
        below = self.after(step.id)
        if isinstance(step, ExitStep):
            return []
        if isinstance(step, BranchStep):
            cases: list[tuple[str, str | None]] = [(c.when, c.next) for c in step.branches]
            return [*cases, ("otherwise", step.default or below)]
        if isinstance(step, SplitStep):
            groups: list[tuple[str, str | None]] = [
                (f"{v.name} {v.weight}%", v.next or below) for v in step.variants
            ]
            return groups + ([(f"holdout {step.holdout}%", None)] if step.holdout else [])
        if isinstance(step, WaitForStep):
            return [(step.event, step.on_event or below), ("timeout", step.on_timeout or below)]
        return [("", step.next or below)]
