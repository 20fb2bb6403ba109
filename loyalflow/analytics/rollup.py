"""The daily rollup: one UTC day of sends, engagement, conversions, purchases, members and points,
computed by one INSERT ... SELECT ... GROUP BY (the parts are in `rollup_parts`) on SQLite and
PostgreSQL alike. Idempotent: rolling a day up again replaces its rows in the same transaction.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.orm import Session

from loyalflow.analytics.rollup_parts import DIMENSIONS, FIGURES, every_part, rollup
from loyalflow.models.db import read_scope, session_scope
from loyalflow.models.rollup_tables import RollupDay, table_of
from loyalflow.models.tables import Event, Message

rolled = table_of(RollupDay)
ROLLUP_LOCK = 0x726F6C6C << 20  # "roll": this module's range of advisory lock keys


class RolledDay(BaseModel):
    day: date
    rows: int


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def rollup_statement(day: date) -> sa.Insert:
    start, end = day_bounds(day)
    parts = sa.union_all(*every_part(start, end)).subquery("part")
    sums = [sa.func.coalesce(sa.func.sum(parts.c[name]), 0).label(name) for name in FIGURES]
    dimensions = [parts.c[name] for name in DIMENSIONS]
    # The parts without a GROUP BY (purchases, points...) give one row of zeros on a quiet day.
    something = sa.or_(*(sa.func.sum(parts.c[name]) != 0 for name in FIGURES))
    select = (
        sa.select(sa.literal(day, sa.Date()).label("day"), *dimensions, *sums)
        .group_by(*dimensions)
        .having(something)
    )
    return sa.insert(rollup).from_select(["day", *DIMENSIONS, *FIGURES], select)


def rollup_day(url: str, day: date) -> RolledDay:
    """Replaces the day's rows with freshly computed ones and marks the day done."""
    with session_scope(url) as session:
        if session.get_bind().dialect.name == "postgresql":
            # The schedule and a hand backfill redoing the same day take turns (SQLite writers
            # always do): otherwise the second INSERT would collide with the first's rows.
            session.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"),
                {"key": ROLLUP_LOCK + day.toordinal()},
            )
        session.execute(sa.delete(rollup).where(rollup.c.day == day))
        session.execute(rollup_statement(day))
        # Counted, not the INSERT's rowcount: some drivers report -1 for INSERT ... SELECT.
        rows = session.execute(
            sa.select(sa.func.count()).select_from(rollup).where(rollup.c.day == day)
        ).scalar_one()
        _mark_done(session, day, rows)
    return RolledDay(day=day, rows=rows)


def _mark_done(session: Session, day: date, rows: int) -> None:
    session.execute(sa.delete(rolled).where(rolled.c.day == day))
    session.execute(sa.insert(rolled).values(day=day, computed_at=datetime.now(UTC), rows=rows))


def last_rolled_day(url: str, before: date) -> date | None:
    with read_scope(url) as session:
        last = session.execute(
            sa.select(sa.func.max(rolled.c.day)).where(rolled.c.day < before)
        ).scalar()
    return _as_date(last)


def first_activity_day(url: str) -> date | None:
    """The first day anything happened (an event or a sent message): where a backfill starts."""
    event, message = table_of(Event), table_of(Message)
    with read_scope(url) as session:
        first_event = session.execute(sa.select(sa.func.min(event.c.occurred_at))).scalar()
        first_send = session.execute(
            sa.select(sa.func.min(message.c.sent_at)).where(message.c.is_test.is_(False))
        ).scalar()
    firsts = [_as_datetime(at).date() for at in (first_event, first_send) if at is not None]
    return min(firsts) if firsts else None


def days_to_roll(url: str, today: date, *, settle_days: int, max_catch_up_days: int) -> list[date]:
    """What the daily schedule rolls up on `today`: every day after the last one rolled up to
    yesterday (missed runs: the worker was down), at most `max_catch_up_days` of them, plus the
    `settle_days` before the last one again (late bounces move sends to bounces). On a database
    never rolled up: from its first activity, within the same limit."""
    yesterday = today - timedelta(days=1)
    last = last_rolled_day(url, today)
    if last is None:
        first = first_activity_day(url)
        start = first if first is not None else yesterday
    else:
        start = last + timedelta(days=1) - timedelta(days=settle_days)
    start = max(start, yesterday - timedelta(days=max_catch_up_days - 1))
    return [start + timedelta(days=n) for n in range((yesterday - start).days + 1)]


def _as_datetime(value: Any) -> datetime:
    """MIN() over a timestamp on SQLite returns the stored text, not a datetime."""
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
