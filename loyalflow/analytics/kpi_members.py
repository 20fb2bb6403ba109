"""Member KPIs at the period end: total, new, active rate, repeat purchase rate, inactivity
buckets and churn; one pass over the member table, grouped by tier or locale when asked.

A member's state "at the period end" is today's row corrected by what happened since: the
counters are today's minus the purchases after the end, and the last activity is today's unless
it is after the end, when the event history answers for that member only. With the default
period (ending now) no event is read at all.
"""

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.sql.expression import ColumnElement

from loyalflow.analytics.kpi_models import InactivityBucket, MemberKpis, Period
from loyalflow.analytics.sql import (
    ACTIVITY_TYPES,
    NO_GROUP,
    amount,
    event,
    group_column,
    joined,
    member,
    ratio,
)
from loyalflow.models.column_types import UTCDateTime


def activity_before(end: datetime) -> sa.CTE:
    """For the members active again since `end` (few, unless the period is long past): their
    last activity before it. Read once (MATERIALIZED), so the buckets below compare a column
    rather than re-running a lookup per bucket."""
    active_since = sa.select(member.c.id).where(member.c.last_activity_at >= end)
    return (
        sa.select(event.c.member_id, sa.func.max(event.c.occurred_at).label("last"))
        .where(
            event.c.member_id.in_(active_since),
            event.c.type.in_(ACTIVITY_TYPES),
            event.c.occurred_at < end,
        )
        .group_by(event.c.member_id)
        .cte()
        .prefix_with("MATERIALIZED")
    )


def last_activity_before(end: datetime, earlier: sa.CTE) -> ColumnElement[Any]:
    """The member's last activity before `end` (`earlier`: `activity_before(end)`, joined);
    the join time for a member with none."""
    last = sa.case(
        (member.c.last_activity_at < end, member.c.last_activity_at),
        (member.c.last_activity_at >= end, earlier.c.last),  # NULL (no activity): neither
    )
    return sa.func.coalesce(last, joined(), type_=UTCDateTime())


def purchases_since(at: datetime) -> sa.Subquery:
    """Per member: orders (refunds excluded) and amounts (refunds included) at or after `at`.

    The rows are read first (MATERIALIZED, from the index of a type's events by time, which
    holds the amounts), then grouped: grouping in the same step makes the planners walk the
    per-member index instead, fetching every purchase row of the history."""
    rows = (
        sa.select(event.c.member_id, amount().label("amount"))
        .where(event.c.type == "purchase", event.c.occurred_at >= at)
        .cte()
        .prefix_with("MATERIALIZED")
    )
    return (
        sa.select(
            rows.c.member_id,
            sa.func.sum(sa.case((rows.c.amount >= 0, 1), else_=0)).label("orders"),
            sa.func.sum(rows.c.amount).label("spent"),
        )
        .group_by(rows.c.member_id)
        .subquery()
    )


def member_kpis(
    connection: Connection, period: Period, buckets_days: tuple[int, ...], by: str | None
) -> dict[str, MemberKpis]:
    end = period.end
    later = purchases_since(end)
    orders_at_end = member.c.purchase_count - sa.func.coalesce(later.c.orders, 0)
    earlier = activity_before(end)
    idle_since = last_activity_before(end, earlier)
    bounds = bucket_bounds(buckets_days)

    def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    def idle_between(low: int, high: int | None) -> ColumnElement[bool]:
        older = idle_since <= end - timedelta(days=low)
        if high is None:
            return older
        return sa.and_(older, idle_since > end - timedelta(days=high))

    group = group_column(by).label("g")
    query = (
        sa.select(
            group,
            sa.func.count().label("total"),
            count(joined() >= period.start).label("new"),
            count(orders_at_end >= 1).label("purchasers"),
            count(orders_at_end >= 2).label("repeat"),
            *(
                count(idle_between(low, high)).label(f"idle_{i}")
                for i, (low, high) in enumerate(bounds)
            ),
        )
        .select_from(
            member.outerjoin(later, later.c.member_id == member.c.id).outerjoin(
                earlier, earlier.c.member_id == member.c.id
            )
        )
        .where(joined() < end)
        .group_by(group)
    )
    figures: dict[str, MemberKpis] = {}
    if by is None:
        figures[NO_GROUP] = empty_member_kpis(bounds)
    for row in connection.execute(query).mappings():
        total = int(row["total"])
        buckets = [
            InactivityBucket(min_days=low, max_days=high, members=int(row[f"idle_{i}"] or 0))
            for i, (low, high) in enumerate(bounds)
        ]
        assert buckets[0].max_days is not None
        active, churned = buckets[0].members, buckets[-1].members
        purchasers, repeat = int(row["purchasers"] or 0), int(row["repeat"] or 0)
        figures[row["g"]] = MemberKpis(
            total=total,
            new=int(row["new"] or 0),
            active=active,
            active_days=buckets[0].max_days,
            active_rate=ratio(active, total),
            purchasers=purchasers,
            repeat_purchasers=repeat,
            repeat_purchase_rate=ratio(repeat, purchasers),
            churned=churned,
            churn_rate=ratio(churned, total),
            inactivity=buckets,
        )
    return figures


def empty_member_kpis(bounds: list[tuple[int, int | None]]) -> MemberKpis:
    """A group without members at the period end (all figures 0, rates None)."""
    first = bounds[0][1]
    assert first is not None
    return MemberKpis(
        total=0,
        new=0,
        active=0,
        active_days=first,
        active_rate=None,
        purchasers=0,
        repeat_purchasers=0,
        repeat_purchase_rate=None,
        churned=0,
        churn_rate=None,
        inactivity=[InactivityBucket(min_days=lo, max_days=hi, members=0) for lo, hi in bounds],
    )


def bucket_bounds(buckets_days: tuple[int, ...]) -> list[tuple[int, int | None]]:
    """(0, first), (first, second)... (last, None): the last bucket is churn."""
    edges: list[int | None] = [0, *buckets_days, None]
    return [(int(low or 0), high) for low, high in pairwise(edges)]
