"""RFM at the period start and end: recency buckets as the seeds define them (a purchase within
3 months, 3 to 6 months, longer), frequency and monetary quintiles (NTILE(5), ties split by
member id) over the members with a purchase; members per cell and their moves between the two.

The state at an instant is today's member row corrected by the purchases since (as in
`kpi_members`), and for members who bought since, their last order before it from
`purchase_previous`; both cells come from one query, grouped by (cell at start, cell at end).
"""

from collections import Counter
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from loyalflow.analytics.kpi_members import purchases_since
from loyalflow.analytics.kpi_models import Period, RfmCell, RfmKey, RfmKpis, RfmMove
from loyalflow.analytics.kpi_purchases import ordered_since
from loyalflow.analytics.sql import joined, member, months_before
from loyalflow.models.activity_tables import PurchasePrevious
from loyalflow.models.rollup_tables import table_of
from loyalflow.models.tables import UTCDateTime

previous = table_of(PurchasePrevious)


def _cells(at: datetime, bought_since: bool) -> sa.Subquery:
    """`bought_since`: some member bought at `at` or later (else no history is read)."""
    later = purchases_since(at)
    orders = member.c.purchase_count - sa.func.coalesce(later.c.orders, 0)
    spent = member.c.total_spent - sa.func.coalesce(later.c.spent, 0)
    # For members who bought again since `at`: their last order before it, the previous order
    # of their first order since (`purchase_previous`, kept by ingestion; only that first one
    # has a previous order before `at`). Read from its index by time (MATERIALIZED: read
    # first, then grouped; orders at the same instant share their previous one).
    six_months = months_before(at, 6)
    firsts = (
        sa.select(previous.c.member_id, previous.c.previous_at)
        .where(
            previous.c.occurred_at >= at,
            previous.c.previous_at < at,
            sa.literal(bought_since),
        )
        .cte()
        .prefix_with("MATERIALIZED")
    )
    recent = (
        sa.select(firsts.c.member_id, sa.func.max(firsts.c.previous_at).label("last"))
        .group_by(firsts.c.member_id)
        .subquery()
    )
    last = sa.type_coerce(
        sa.case(
            (member.c.last_purchase_at < at, member.c.last_purchase_at),
            (member.c.last_purchase_at >= at, recent.c.last),
        ),
        UTCDateTime(),
    )
    state = (
        sa.select(
            member.c.id,
            last.label("last"),
            orders.label("orders"),
            spent.label("spent"),
        )
        .select_from(
            member.outerjoin(later, later.c.member_id == member.c.id).outerjoin(
                recent, recent.c.member_id == member.c.id
            )
        )
        .where(joined() < at, orders >= 1)
        .subquery()
    )
    last_purchase = sa.type_coerce(state.c.last, UTCDateTime())
    recency = sa.case(
        (last_purchase > months_before(at, 3), "<3m"),
        (last_purchase > six_months, "3-6m"),
        else_=">6m",
    )
    return sa.select(
        state.c.id,
        recency.label("recency"),
        sa.func.ntile(5).over(order_by=(state.c.orders, state.c.id)).label("f"),
        sa.func.ntile(5).over(order_by=(state.c.spent, state.c.id)).label("m"),
    ).subquery()


def rfm_kpis(connection: Connection, period: Period) -> RfmKpis:
    before = _cells(period.start, ordered_since(connection, period.start))
    after = _cells(period.end, ordered_since(connection, period.end))
    keys = (after.c.recency, after.c.f, after.c.m, before.c.recency, before.c.f, before.c.m)
    rows = connection.execute(
        sa.select(*keys, sa.func.count().label("members"))
        .select_from(after.outerjoin(before, before.c.id == after.c.id))
        .group_by(*keys)
    ).all()
    start: Counter[RfmKey] = Counter()
    end: Counter[RfmKey] = Counter()
    moves: list[RfmMove] = []
    changed = 0
    for row in rows:
        now = _key(row[0], row[1], row[2])
        was = _key(row[3], row[4], row[5]) if row[3] is not None else None
        members = int(row.members)
        end[now] += members
        if was is not None:
            start[was] += members
        if was != now:
            changed += members
        moves.append(RfmMove(before=was, after=now, members=members))
    moves.sort(key=lambda m: (_order(m.before), _order(m.after)))
    return RfmKpis(start=_listed(start), end=_listed(end), moves=moves, changed=changed)


RECENCY_ORDER = {"<3m": 0, "3-6m": 1, ">6m": 2}


def _key(recency: Any, frequency: Any, monetary: Any) -> RfmKey:
    return RfmKey(recency=recency, frequency=int(frequency), monetary=int(monetary))


def _order(key: RfmKey | None) -> tuple[int, int, int]:
    if key is None:
        return (-1, 0, 0)
    return (RECENCY_ORDER[key.recency], -key.frequency, -key.monetary)


def _listed(cells: Counter[RfmKey]) -> list[RfmCell]:
    return [
        RfmCell(**key.model_dump(), members=members)
        for key, members in sorted(cells.items(), key=lambda kv: _order(kv[0]))
    ]
