"""The daily rollup: one row per UTC day and (journey, step, channel, variant), so that time series
and dashboards read a few rows per day instead of the event history (issue 17, "Scale").

Every figure lives in exactly one kind of row, so summing a day's rows gives the day's totals:
- message rows (journey, step, channel, variant set): sends, delivered, bounces, opens, clicks,
  and the unsubscribes blamed on the member's last message on that channel and topic;
- journey rows (journey and variant set, step and channel ""): entered, conversions;
- program rows (journey, step, variant ""; channel set only for unsubscribes no message
  explains): purchases, revenue, new members, points issued, redeemed and expired.
`analytics/rollup.py` has the definitions; README "Results: the HTML report and daily rollup".
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Column, Date, Index, Table
from sqlmodel import Field, SQLModel

from loyalflow.models.column_types import UTCDateTime, utcnow
from loyalflow.models.tables import Enrollment, Message


def _count() -> Any:
    return Field(default=0, sa_column=Column(BigInteger(), nullable=False))


def table_of(model: type[SQLModel]) -> Table:
    """A model's SQLAlchemy table, typed (SQLModel does not declare `__table__`)."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


# What a day's rollup reads, by time: without these it scans the whole history for one day.
# (Events by type and time, ledger rows by time: the KPI report's indexes, in tables.py.)
ROLLUP_INDEXES = (
    Index("ix_message_sent_at", table_of(Message).c.sent_at),
    Index("ix_message_first_opened_at", table_of(Message).c.first_opened_at),
    Index("ix_message_first_clicked_at", table_of(Message).c.first_clicked_at),
    Index("ix_enrollment_entered_at", table_of(Enrollment).c.entered_at),
    Index("ix_enrollment_converted_at", table_of(Enrollment).c.converted_at),
)


class DailyRollup(SQLModel, table=True):
    __tablename__ = "daily_rollup"

    day: date = Field(sa_column=Column(Date(), primary_key=True))
    # "" rather than NULL: part of the key, and NULLs are never equal in a primary key.
    journey_id: str = Field(default="", primary_key=True, max_length=64)
    step_id: str = Field(default="", primary_key=True, max_length=64)
    channel: str = Field(default="", primary_key=True, max_length=16)
    variant: str = Field(default="", primary_key=True, max_length=64)
    sends: int = _count()
    delivered: int = _count()
    bounces: int = _count()
    opens: int = _count()
    clicks: int = _count()
    unsubscribes: int = _count()
    entered: int = _count()
    conversions: int = _count()
    purchases: int = _count()
    revenue: Decimal = Field(default=Decimal(0), max_digits=20, decimal_places=2)
    new_members: int = _count()
    points_issued: int = _count()
    points_redeemed: int = _count()
    points_expired: int = _count()


class RollupDay(SQLModel, table=True):
    """The days rolled up, and when: a day with no activity has no `daily_rollup` row, yet it is
    done; the schedule's catch-up starts after the last day here."""

    __tablename__ = "rollup_day"

    day: date = Field(sa_column=Column(Date(), primary_key=True))
    computed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    rows: int = 0
