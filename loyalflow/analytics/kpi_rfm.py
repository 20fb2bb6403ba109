"""RFM at the period start and end: recency buckets as the seeds define them (a purchase within
3 months, 3 to 6 months, longer), frequency and monetary quintiles (NTILE(5), ties split by
member id) over the members with a purchase; members per cell and their moves between the two.

The state at an instant is, for members who bought since, the state their first order since
records (`purchase_previous`), else today's member row; refunds since are taken back. Both
instants' cells come from one pass over the member table, grouped by (cell at start, cell at
end), and the quintiles from `quintiles` (no sort of every buyer).
"""

from collections import Counter
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.sql.expression import ColumnElement

from loyalflow.analytics.kpi_models import Period, RfmCell, RfmKey, RfmKpis, RfmMove
from loyalflow.analytics.kpi_purchases import ordered_since
from loyalflow.analytics.quintiles import Ranked, quintile
from loyalflow.analytics.sql import event, joined, member, months_before
from loyalflow.models.activity_tables import PurchasePrevious
from loyalflow.models.column_types import UTCDateTime
from loyalflow.models.rollup_tables import table_of

previous = table_of(PurchasePrevious)


Joins = list[tuple[sa.FromClause, ColumnElement[bool]]]


def _state_at(at: datetime, bought_since: bool) -> tuple[Joins, dict[str, Any]]:
    """(rows to outer-join to the member table, columns): the member's orders, net spend and last
    order at `at`; `bought_since`: some member bought at `at` or later (else no order is read).

    A member who bought since `at` was, at `at`, in the state their first order since records
    (`purchase_previous`, kept by ingestion: previous order, orders and spend before it), less
    the refunds between `at` and that order; one who did not is today's member row, less the
    refunds since `at`. Orders are read from the index by time, the refunds (a few
    percent of purchases) from the events' index by type and time; nothing is summed per member over the
    orders since `at`."""
    # One row per member (orders at the same instant share their state before), grouped from
    # the index by time; not a CTE, so that the planner estimates its size from the table's
    # statistics and hashes it rather than the member table.
    firsts = sa.and_(
        previous.c.occurred_at >= at,
        sa.or_(previous.c.previous_at < at, previous.c.previous_at.is_(None)),
        sa.literal(bought_since),
    )
    first = (
        sa.select(
            previous.c.member_id,
            sa.func.max(previous.c.previous_at).label("last"),
            sa.func.max(previous.c.orders_before).label("orders"),
            sa.func.max(previous.c.spent_before).label("spent"),
        )
        .where(firsts)
        .group_by(previous.c.member_id)
        .subquery()
    )
    # Refunds since `at` and before the member's first order since (if any): the refunds are
    # few, each looks up that order in the member's own rows.
    later = previous.alias("later")
    first_order_since = (
        sa.select(sa.func.min(later.c.occurred_at))
        .where(later.c.member_id == event.c.member_id, later.c.occurred_at >= at)
        .scalar_subquery()
    )
    refunded = (
        sa.select(event.c.member_id, sa.func.sum(event.c.amount).label("amount"))
        .where(
            event.c.type == "purchase",
            event.c.occurred_at >= at,
            event.c.amount < 0,
            sa.or_(first_order_since.is_(None), event.c.occurred_at < first_order_since),
        )
        .group_by(event.c.member_id)
        .subquery()
    )
    bought = first.c.member_id.is_not(None)
    columns = {
        "orders": sa.case((bought, first.c.orders), else_=member.c.purchase_count),
        "spent": sa.case((bought, first.c.spent), else_=member.c.total_spent)
        - sa.func.coalesce(refunded.c.amount, 0),
        "last": sa.case((bought, first.c.last), else_=member.c.last_purchase_at),
    }
    joins: Joins = [
        (first, first.c.member_id == member.c.id),
        (refunded, refunded.c.member_id == member.c.id),
    ]
    return joins, columns


def _recency(last: ColumnElement[Any], at: datetime) -> ColumnElement[Any]:
    last_purchase = sa.type_coerce(last, UTCDateTime())
    return sa.case(
        (last.is_(None), sa.null()),
        (last_purchase > months_before(at, 3), "<3m"),
        (last_purchase > months_before(at, 6), "3-6m"),
        else_=">6m",
    )


def _moves_query(
    period: Period, bought_since_start: bool, bought_since_end: bool
) -> sa.Select[Any]:
    """(cell at the end, cell at the start: NULLs when not a buyer then, members): one pass over
    the member table for both instants, quintiles without sorting the buyers (`quintiles`)."""
    start_joins, at_start = _state_at(period.start, bought_since_start)
    end_joins, at_end = _state_at(period.end, bought_since_end)
    source: sa.FromClause = member  # both instants' corrections, joined to one member scan
    for table, condition in start_joins + end_joins:
        source = source.outerjoin(table, condition)
    buyer_then = sa.and_(joined() < period.start, at_start["orders"] >= 1)
    state = (
        sa.select(
            member.c.id.label("id"),
            at_end["orders"].label("orders_end"),
            at_end["spent"].label("spent_end"),
            at_end["last"].label("last_end"),
            sa.case((buyer_then, at_start["orders"])).label("orders_start"),
            sa.case((buyer_then, at_start["spent"])).label("spent_start"),
            sa.case((buyer_then, at_start["last"])).label("last_start"),
        )
        .select_from(source)
        .where(joined() < period.end, at_end["orders"] >= 1)
        .cte("rfm_state")
        .prefix_with("MATERIALIZED")
    )
    c = state.c

    def by_orders(orders: ColumnElement[Any]) -> Ranked:
        return Ranked(value=orders, row_id=c.id, key=orders)

    def by_spend(spent: ColumnElement[Any]) -> Ranked:
        return Ranked(value=spent, row_id=c.id, key=sa.cast(spent, sa.Integer()))

    quintiles = {
        name: quintile(state, ranked, f"rfm_{name}")
        for name, ranked in (
            ("f_end", by_orders(c.orders_end)),
            ("m_end", by_spend(c.spent_end)),
            ("f_start", by_orders(c.orders_start)),
            ("m_start", by_spend(c.spent_start)),
        )
    }
    source_of_cells: sa.FromClause = state
    for each in quintiles.values():
        source_of_cells = each.join_to(source_of_cells)
    keys = (
        _recency(c.last_end, period.end).label("recency_end"),
        quintiles["f_end"].bucket.label("f_end"),
        quintiles["m_end"].bucket.label("m_end"),
        _recency(c.last_start, period.start).label("recency_start"),
        quintiles["f_start"].bucket.label("f_start"),
        quintiles["m_start"].bucket.label("m_start"),
    )
    cells = sa.select(*keys).select_from(source_of_cells).subquery("rfm_cells")
    grouped = [cells.c[key.name] for key in keys]
    return sa.select(*grouped, sa.func.count().label("members")).group_by(*grouped)


def rfm_kpis(connection: Connection, period: Period) -> RfmKpis:
    query = _moves_query(
        period,
        ordered_since(connection, period.start),
        ordered_since(connection, period.end),
    )
    rows = connection.execute(query).all()
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
