"""Retention by join-month cohort: of the members who joined in a month, the share active
(a join, purchase or visit) in each later calendar month, up to the period end's month.

Whole months are read from `cohort_activity` (kept by ingestion: members per join month and
month of activity), a few hundred rows rather than every member's months or events. The period
end's own month is counted from the member rows (their last activity), since the end may fall
inside it.
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from loyalflow.analytics.kpi_models import CohortRow, CohortTable, Period
from loyalflow.analytics.kpi_purchases import few_since
from loyalflow.analytics.sql import (
    ACTIVITY_TYPES,
    event,
    index_of,
    joined,
    member,
    month_index,
    month_label,
)
from loyalflow.models.activity_tables import CohortActivity
from loyalflow.models.rollup_tables import table_of

COHORT_MONTHS = 12
counts = table_of(CohortActivity)


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
    whole_months = sa.select(counts.c.cohort, counts.c.month, counts.c.members).where(
        counts.c.cohort >= first,
        counts.c.cohort <= last,
        counts.c.month > first,
        counts.c.month < last,
    )
    for cohort_of, month, members in connection.execute(whole_months):
        active[(int(cohort_of), int(month))] = int(members)
    # The last month up to the end: members whose last activity is in it, or later with an
    # activity in it too (a probe of their events, for the few active since the end). When
    # many were active since (a period long past), the month's activity events are read
    # instead (distinct members first, from the index of a type's events by time).
    if few_since(connection, member.c.last_activity_at, period.end):
        active_in_month = (
            sa.select(event.c.event_id)
            .where(
                event.c.member_id == member.c.id,
                event.c.type.in_(ACTIVITY_TYPES),
                event.c.occurred_at >= last_start,
                event.c.occurred_at < period.end,
            )
            .exists()
        )
        rows_of: sa.FromClause = member
        active_now = sa.and_(
            in_window,
            member.c.last_activity_at >= last_start,
            sa.or_(member.c.last_activity_at < period.end, active_in_month),
        )
    else:
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
        rows_of = member.join(active_last, active_last.c.member_id == member.c.id)
        active_now = in_window
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


def _month_start(index: int) -> datetime:
    year, month = divmod(index - 1, 12)
    return datetime(year, month + 1, 1, tzinfo=UTC)
