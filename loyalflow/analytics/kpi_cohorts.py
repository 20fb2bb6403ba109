"""Retention by join-month cohort: of the members who joined in a month, the share active
(a join, purchase or visit) in each later calendar month, up to the period end's month."""

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

COHORT_MONTHS = 12


def cohort_table(
    connection: Connection, period: Period, months: int = COHORT_MONTHS
) -> CohortTable:
    """The `months` join months up to the period end's (partial) month."""
    last = index_of(period.end - timedelta(microseconds=1))  # the end is not in the period
    year, month = divmod(last - months, 12)
    first_start = datetime(year, month + 1, 1, tzinfo=UTC)
    cohort = month_index(joined()).label("cohort")
    cohorts = (
        sa.select(member.c.id, cohort)
        .where(joined() >= first_start, joined() < period.end)
        .subquery()
    )
    sizes = {
        int(row.cohort): int(row.members)
        for row in connection.execute(
            sa.select(cohorts.c.cohort, sa.func.count().label("members")).group_by(cohorts.c.cohort)
        )
    }
    active_month = month_index(event.c.occurred_at).label("month")
    activity = (
        sa.select(event.c.member_id, active_month)
        .where(
            event.c.type.in_(ACTIVITY_TYPES),
            event.c.occurred_at >= first_start,
            event.c.occurred_at < period.end,
        )
        .distinct()
        .subquery()
    )
    active = {
        (int(row.cohort), int(row.month)): int(row.members)
        for row in connection.execute(
            sa.select(cohorts.c.cohort, activity.c.month, sa.func.count().label("members"))
            .select_from(cohorts.join(activity, activity.c.member_id == cohorts.c.id))
            .where(activity.c.month > cohorts.c.cohort)
            .group_by(cohorts.c.cohort, activity.c.month)
        )
    }
    rows = [
        CohortRow(
            cohort=month_label(index),
            members=sizes[index],
            retention=[
                active.get((index, month), 0) / sizes[index] for month in range(index + 1, last + 1)
            ],
        )
        for index in range(last - months + 1, last + 1)
        if sizes.get(index)
    ]
    return CohortTable(months=months, rows=rows)
