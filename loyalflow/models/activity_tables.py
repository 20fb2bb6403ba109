"""A member's activity per calendar month (UTC), kept by ingestion in the same transaction as the
member's counters: the KPI report's cohort retention reads a few rows per member from here
instead of every event of the history (issue 17, "Scale").

One row per (member, month) in which the member did something themselves (a join, purchase or
visit, `members.state.MEMBER_ACTIVITY`); `purchases` counts orders (refunds excluded) and
`spent` adds amounts (refunds included), as the member row's `purchase_count`/`total_spent` do.
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from loyalflow.models import tables as _schema  # noqa: F401  (`member`, which the foreign keys name)
from loyalflow.models.column_types import UTCDateTime


class MemberActivityMonth(SQLModel, table=True):
    __tablename__ = "member_activity_month"
    # The cohort table reads a window of months for every member: by month first.
    __table_args__ = (Index("ix_member_activity_month_month", "month", "member_id"),)

    member_id: str = Field(
        sa_column=Column(String(128), ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )
    # year * 12 + month, as `analytics.sql.month_index` computes it from a timestamp.
    month: int = Field(sa_column=Column(Integer(), primary_key=True, autoincrement=False))
    purchases: int = 0
    spent: Decimal = Field(default=Decimal(0), max_digits=20, decimal_places=2)


class CohortActivity(SQLModel, table=True):
    """Members of a join-month cohort with activity in a month: `member_activity_month` counted
    by (the member's join month, month). The KPI report's cohort table reads its whole months
    here, a few hundred rows, instead of every cohort member's months. Kept by ingestion with
    the activity months (a row's first activity in a month adds one; a member's join month
    that a late `member.joined` moves carries their months along)."""

    __tablename__ = "cohort_activity"

    # year * 12 + month, as `analytics.sql.month_index`: of joining (else of creation), of activity
    cohort: int = Field(sa_column=Column(Integer(), primary_key=True, autoincrement=False))
    month: int = Field(sa_column=Column(Integer(), primary_key=True, autoincrement=False))
    members: int = Field(sa_column=Column(Integer(), nullable=False))


class PurchasePrevious(SQLModel, table=True):
    """Each order (a purchase event with a non-negative amount) with the member's state strictly
    before its instant: the time of their previous order (NULL for their first), their orders and
    their net spend (refunds included). RFM's state at an instant T reads, for a member who
    bought since T, the row of their first order since T, instead of their whole history since
    (or before) T. Kept by ingestion (members/purchase_previous.py); late orders and refunds
    included (the member's rows are recomputed then)."""

    __tablename__ = "purchase_previous"
    # RFM reads the orders since an instant with the state before each: index-only.
    __table_args__ = (
        Index(
            "ix_purchase_previous_state",
            "occurred_at",
            "member_id",
            "previous_at",
            "orders_before",
            "spent_before",
        ),
        Index("ix_purchase_previous_member", "member_id", "occurred_at"),
    )

    event_id: str = Field(sa_column=Column(String(255), primary_key=True))
    member_id: str = Field(
        sa_column=Column(String(128), ForeignKey("member.id", ondelete="CASCADE"), nullable=False)
    )
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    previous_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    orders_before: int = Field(default=0, sa_column=Column(Integer(), nullable=False))
    spent_before: Decimal = Field(default=Decimal(0), max_digits=20, decimal_places=2)
