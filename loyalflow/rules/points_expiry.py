"""When earned points expire: the `points_expiry` block of loyalty.yaml.

Every policy is turned into an expiry date per lot (or none), so one daily sweep handles them all:
`rolling` moves the dates of the member's open lots forward on each activity of theirs.
"""

import calendar
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


def add_months(at: datetime, months: int) -> datetime:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = at.month - 1 + months
    year, month = at.year + month_index // 12, month_index % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def end_of_next_period(earned_at: datetime, period: Literal["year", "quarter"]) -> datetime:
    """The end (UTC) of the year or quarter after the one `earned_at` falls in."""
    earned_at = earned_at.astimezone(UTC)
    if period == "year":
        return datetime(earned_at.year + 2, 1, 1, tzinfo=UTC)
    quarter_start = datetime(earned_at.year, 3 * ((earned_at.month - 1) // 3) + 1, 1, tzinfo=UTC)
    return add_months(quarter_start, 6)


class PointsExpiry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: Literal["never", "rolling", "per_lot", "end_of_period"] = "never"
    # rolling: months without activity before the whole balance expires; per_lot: lot lifetime.
    months: Annotated[int, Field(gt=0, le=120)] | None = None
    period: Literal["year", "quarter"] | None = None  # end_of_period only
    reminder_days: tuple[Annotated[int, Field(gt=0, le=365)], ...] = (30, 7)
    sweep_cron: str = "30 3 * * *"  # when the daily expiry sweep runs, UTC

    @model_validator(mode="after")
    def _fields_fit_the_policy(self) -> "PointsExpiry":
        needs_months = self.policy in ("rolling", "per_lot")
        if needs_months and self.months is None:
            raise ValueError(f"policy {self.policy!r} needs `months`")
        if not needs_months and self.months is not None:
            raise ValueError(f"`months` does not apply to policy {self.policy!r}")
        if (self.policy == "end_of_period") != (self.period is not None):
            raise ValueError("`period` (year or quarter) goes with policy 'end_of_period' only")
        if len(set(self.reminder_days)) != len(self.reminder_days):
            raise ValueError("reminder_days must not repeat a day")
        return self

    def expires_at(self, earned_at: datetime, last_activity_at: datetime | None) -> datetime | None:
        """The expiry of a lot earned at `earned_at`; None when it never expires."""
        if self.policy == "per_lot":
            assert self.months is not None
            return add_months(earned_at, self.months)
        if self.policy == "rolling":
            assert self.months is not None
            return add_months(max(filter(None, (earned_at, last_activity_at))), self.months)
        if self.policy == "end_of_period":
            assert self.period is not None
            return end_of_next_period(earned_at, self.period)
        return None
