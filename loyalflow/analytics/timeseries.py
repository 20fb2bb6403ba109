"""Daily time series for a period, read from the daily rollup ONLY (never the event history): a
dashboard's cost is a few rows per day, whatever the program's size."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from loyalflow.analytics.rollup_parts import FIGURES, rollup
from loyalflow.models.db import read_scope
from loyalflow.models.rollup_tables import RollupDay, table_of

MAX_DAYS = 3660  # ten years of points: a chart, not an export
rolled = table_of(RollupDay)


class DayFigures(BaseModel):
    model_config = ConfigDict(frozen=True)

    day: date
    rolled_up: bool  # False: the day was never rolled up, its zeros mean "unknown"
    sends: int = 0
    delivered: int = 0
    bounces: int = 0
    opens: int = 0
    clicks: int = 0
    unsubscribes: int = 0
    entered: int = 0
    conversions: int = 0
    purchases: int = 0
    revenue: Decimal = Decimal(0)
    new_members: int = 0
    points_issued: int = 0
    points_redeemed: int = 0
    points_expired: int = 0


class DailySeries(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: date  # inclusive
    end: date  # inclusive
    journey_id: str | None = None
    days: list[DayFigures]
    missing_days: int  # days in the period never rolled up (`loyalflow report rollup` fills them)


def daily_series(url: str, start: date, end: date, *, journey_id: str | None = None) -> DailySeries:
    """Every day from `start` to `end` inclusive, summed over the rollup's rows (one journey's
    rows only with `journey_id`)."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    if (end - start).days >= MAX_DAYS:
        raise ValueError(f"a time series covers at most {MAX_DAYS} days")
    query = (
        sa.select(rollup.c.day, *(sa.func.sum(rollup.c[name]).label(name) for name in FIGURES))
        .where(rollup.c.day >= start, rollup.c.day <= end)
        .group_by(rollup.c.day)
    )
    if journey_id is not None:
        query = query.where(rollup.c.journey_id == journey_id)
    with read_scope(url) as session:
        sums = {_date(row.day): row._mapping for row in session.execute(query)}
        done = {
            _date(day)
            for day in session.execute(
                sa.select(rolled.c.day).where(rolled.c.day >= start, rolled.c.day <= end)
            ).scalars()
        }
    days = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        figures = {name: _figure(name, sums[day][name]) for name in FIGURES} if day in sums else {}
        days.append(DayFigures(day=day, rolled_up=day in done, **figures))
    return DailySeries(
        start=start,
        end=end,
        journey_id=journey_id,
        days=days,
        missing_days=sum(1 for d in days if not d.rolled_up),
    )


def _figure(name: str, value: Any) -> int | Decimal:
    if name == "revenue":
        return Decimal(str(value or 0)).quantize(Decimal("0.01"))
    return int(value or 0)


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
