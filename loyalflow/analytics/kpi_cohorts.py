"""Retention by join-month cohort: of the members who joined in a month, the share active
(a join, purchase or visit) in each later calendar month, up to the period end's month."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from loyalflow.analytics.kpi_models import CohortRow, CohortTable, Period
from loyalflow.analytics.sql import (
    ACTIVITY_TYPES,
    by_member_index,
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
    first = last - months + 1
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
    # Per member, one flag per month of the window (a join, purchase or visit in it), then per
    # cohort the sum of each flag: no DISTINCT over millions of (member, month) pairs, which
    # SQLite sorts slowly; each cohort member's events are read through the per-member index.
    # Months as time ranges: a row compares its time twice per month, cheaper than taking the
    # calendar month of every event twelve times over.
    starts = [_month_start(first + k) for k in range(months + 1)]
    flags = [
        sa.func.max(
            sa.case(
                (
                    sa.and_(event.c.occurred_at >= starts[k], event.c.occurred_at < starts[k + 1]),
                    1,
                ),
                else_=0,
            )
        ).label(f"m{k}")
        for k in range(months)
    ]
    per_member = (
        sa.select(cohort.label("cohort"), *flags)
        .select_from(
            member.join(
                event,
                sa.and_(
                    event.c.member_id == member.c.id,
                    by_member_index(event.c.type).in_(ACTIVITY_TYPES),
                    by_member_index(event.c.occurred_at) >= first_start,
                    by_member_index(event.c.occurred_at) < period.end,
                ),
            )
        )
        .where(in_window)
        .group_by(member.c.id, cohort)
        .subquery()
    )
    active = {
        int(row.cohort): [int(row[f"m{k}"] or 0) for k in range(months)]
        for row in connection.execute(
            sa.select(
                per_member.c.cohort,
                *(sa.func.sum(per_member.c[f"m{k}"]).label(f"m{k}") for k in range(months)),
            ).group_by(per_member.c.cohort)
        ).mappings()
    }
    rows = [
        CohortRow(
            cohort=month_label(index),
            members=sizes[index],
            retention=[
                active.get(index, [0] * months)[month - first] / sizes[index]
                for month in range(index + 1, last + 1)
            ],
        )
        for index in range(first, last + 1)
        if sizes.get(index)
    ]
    return CohortTable(months=months, rows=rows)


def _month_start(index: int) -> datetime:
    year, month = divmod(index - 1, 12)
    return datetime(year, month + 1, 1, tzinfo=UTC)
