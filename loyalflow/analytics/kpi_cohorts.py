"""Retention by join-month cohort: of the members who joined in a month, the share active
(a join, purchase or visit) in each later calendar month, up to the period end's month.

Whole months are read from `member_activity_month` (kept by ingestion: one row per member and
month with activity), a few rows per member rather than every event of the history. The period
end's own month is read from the events up to the end, since the end may fall inside it.
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from loyalflow.analytics.kpi_models import CohortRow, CohortTable, Period
from loyalflow.analytics.sql import (
    ACTIVITY_TYPES,
    event,
    index_of,
    joined,
    member,
    month_index,
    month_label,
)
from loyalflow.models.activity_tables import MemberActivityMonth
from loyalflow.models.rollup_tables import table_of

COHORT_MONTHS = 12
activity_month = table_of(MemberActivityMonth)


def cohort_table(
    connection: Connection, period: Period, months: int = COHORT_MONTHS
) -> CohortTable:
    """The `months` join months up to the period end's (partial) month."""
    last = index_of(period.end - timedelta(microseconds=1))  # the end is not in the period
    first = last - months + 1
    first_start, last_start = _month_start(first), _month_start(last)
    cohort = month_index(joined())
    in_window = sa.and_(joined() >= first_start, joined() < period.end)
    sizes = {
        int(row.cohort): int(row.members)
        for row in connection.execute(
            sa.select(cohort.label("cohort"), sa.func.count().label("members"))
            .where(in_window)
            .group_by(cohort)
        )
    }
    active: dict[tuple[int, int], int] = {}
    whole_months = (
        sa.select(cohort.label("cohort"), activity_month.c.month, sa.func.count().label("members"))
        .select_from(member.join(activity_month, activity_month.c.member_id == member.c.id))
        .where(in_window, activity_month.c.month > first, activity_month.c.month < last)
        .group_by(cohort, activity_month.c.month)
    )
    for row in connection.execute(whole_months):
        active[(int(row.cohort), int(row.month))] = int(row.members)
    # The last month up to the end. With no activity since the end (a period up to now), a
    # member was active in it exactly when their last activity is: their row answers. Else the
    # members with an activity event in it (distinct first, from the index of a type's events
    # by time), then their cohorts.
    if _active_since(connection, period.end):
        active_last = (
            sa.select(event.c.member_id)
            .where(
                event.c.type.in_(ACTIVITY_TYPES),
                event.c.occurred_at >= last_start,
                event.c.occurred_at < period.end,
            )
            .distinct()
            .subquery()
        )
        rows_of: sa.FromClause = member.join(active_last, active_last.c.member_id == member.c.id)
        active_now = in_window
    else:
        rows_of = member
        active_now = sa.and_(in_window, member.c.last_activity_at >= last_start)
    last_month = (
        sa.select(cohort.label("cohort"), sa.func.count().label("members"))
        .select_from(rows_of)
        .where(active_now)
        .group_by(cohort)
    )
    for row in connection.execute(last_month):
        active[(int(row.cohort), last)] = int(row.members)
    rows = [
        CohortRow(
            cohort=month_label(index),
            members=sizes[index],
            retention=[
                active.get((index, month), 0) / sizes[index] for month in range(index + 1, last + 1)
            ],
        )
        for index in range(first, last + 1)
        if sizes.get(index)
    ]
    return CohortTable(months=months, rows=rows)


def _active_since(connection: Connection, at: datetime) -> bool:
    later = sa.select(member.c.id).where(member.c.last_activity_at >= at).limit(1)
    return connection.execute(later).first() is not None


def _month_start(index: int) -> datetime:
    year, month = divmod(index - 1, 12)
    return datetime(year, month + 1, 1, tzinfo=UTC)
