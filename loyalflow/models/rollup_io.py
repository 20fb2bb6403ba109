"""Inputs and outputs of the daily rollup workflow and its activities."""

from datetime import date, datetime

from pydantic import BaseModel, Field


class RollupInput(BaseModel):
    """The schedule starts it with the defaults: roll up yesterday (UTC), catch up the days missed
    since the last rollup (at most `max_catch_up_days`), and re-roll `settle_days` before that
    (late bounces). `days` is set on a continuation (continue-as-new): what is left to do."""

    as_of: datetime | None = None
    settle_days: int = Field(default=2, ge=0, le=31)
    max_catch_up_days: int = Field(default=31, ge=1, le=3660)
    days: list[date] | None = None
    rolled: list[date] = Field(default_factory=list)
    rows: int = 0


class RollupPlanRequest(BaseModel):
    today: date
    settle_days: int
    max_catch_up_days: int


class RollupPlan(BaseModel):
    days: list[date]


class RollupDayRequest(BaseModel):
    day: date


class RollupDayResult(BaseModel):
    day: date
    rows: int


class KpiSnapshotRequest(BaseModel):
    """The dashboard's preset periods end the day before `today` (the rollup's last day)."""

    today: date


class KpiSnapshotResult(BaseModel):
    periods: int


class RollupResult(BaseModel):
    days: list[date]
    rows: int
