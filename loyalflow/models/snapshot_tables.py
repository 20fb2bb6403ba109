"""Stored KPI reports (issue 18, "Performance"): the full program report takes seconds at a
million members, so the console's dashboard reads one row here instead of computing it while
the page waits. `analytics/snapshots.py` writes and reads them.

One row per (period, grouping): a new computation replaces the old one. The report is kept as
its JSON (the shape of `GET /reports/kpis`), so money keeps its exact decimal strings.
"""

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from loyalflow.models.column_types import UTCDateTime, utcnow

NO_GROUPING = ""  # `by` unset; "" rather than NULL: part of the unique key, and NULLs differ


class KpiSnapshot(SQLModel, table=True):
    __tablename__ = "kpi_snapshot"
    __table_args__ = (
        UniqueConstraint("period_start", "period_end", "grouping", name="uq_kpi_snapshot_period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    period_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    period_end: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    grouping: str = Field(default=NO_GROUPING, max_length=16)  # "", "tier" or "locale"
    computed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    report: str = Field(sa_column=Column(Text(), nullable=False))  # KpiReport as JSON
