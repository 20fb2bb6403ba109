"""Purchase KPIs over the period: orders, revenue, average order value, purchase frequency,
revenue per member and 12-month historical CLV; AOV per tier as well.

Orders are `purchase` events with an amount of 0 or more; a refund (a negative amount) is no
order but takes its amount off the revenue, as it takes it off the member's `total_spent`.
"""

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from loyalflow.analytics.kpi_models import Period, PurchaseKpis, TierAov
from loyalflow.analytics.sql import (
    NO_GROUP,
    amount,
    event,
    group_column,
    member,
    money,
    money_ratio,
    ratio,
)
from loyalflow.models.activity_tables import PurchasePrevious
from loyalflow.models.rollup_tables import table_of

previous = table_of(PurchasePrevious)

CLV_WINDOW = timedelta(days=365)


def _purchases(
    by: str | None, start: datetime, end: datetime, *, buyers: bool = True
) -> "sa.Select[Any]":
    """Orders, revenue (and, with `buyers`, members with an order) per group, in [start, end)."""
    group = group_column(by).label("g")
    figures = [
        sa.func.sum(sa.case((amount() >= 0, 1), else_=0)).label("orders"),
        sa.func.sum(amount()).label("revenue"),
    ]
    if buyers:
        with_order = sa.case((amount() >= 0, event.c.member_id))
        figures.append(sa.func.count(sa.distinct(with_order)).label("buyers"))
    query = sa.select(group, *figures).where(
        event.c.type == "purchase", event.c.occurred_at >= start, event.c.occurred_at < end
    )
    if by is not None:
        query = query.select_from(event.join(member, member.c.id == event.c.member_id))
    return query.group_by(group)


def purchase_kpis(
    connection: Connection, period: Period, members: dict[str, int], by: str | None
) -> dict[str, PurchaseKpis]:
    """`members`: each group's total at the period end (the denominator per member)."""
    # A member bought in the period when their last order is in it, or when it is later and
    # they have an order in it too: counted from the member rows (no DISTINCT over the period's
    # orders) unless many members bought since the end (a period long past).
    from_rows = few_since(connection, member.c.last_purchase_at, period.end)
    in_period = {
        row.g: row
        for row in connection.execute(
            _purchases(by, period.start, period.end, buyers=not from_rows)
        )
    }
    buyers_of = (
        _buyers_from_rows(connection, by, period)
        if from_rows
        else {key: int(row.buyers or 0) for key, row in in_period.items()}
    )
    year = {
        row.g: money(row.revenue)
        for row in connection.execute(
            _purchases(by, period.end - CLV_WINDOW, period.end, buyers=False)
        )
    }
    figures: dict[str, PurchaseKpis] = {}
    for key in sorted(set(members) | set(in_period) | set(year)):
        row = in_period.get(key)
        orders = int(row.orders or 0) if row else 0
        revenue = money(row.revenue) if row else money(0)
        buyers = buyers_of.get(key, 0)
        total = members.get(key, 0)
        revenue_12m = year.get(key, money(0))
        figures[key] = PurchaseKpis(
            orders=orders,
            revenue=revenue,
            purchasers=buyers,
            average_order_value=money_ratio(revenue, orders),
            purchase_frequency=ratio(orders, buyers),
            revenue_per_member=money_ratio(revenue, total),
            revenue_12m=revenue_12m,
            clv_12m=money_ratio(revenue_12m, total),
        )
    return figures


def empty_purchase_kpis() -> PurchaseKpis:
    """A group with no order in the period nor in the 12 months before its end."""
    return PurchaseKpis(
        orders=0,
        revenue=money(0),
        purchasers=0,
        average_order_value=None,
        purchase_frequency=None,
        revenue_per_member=None,
        revenue_12m=money(0),
        clv_12m=None,
    )


def ordered_since(connection: Connection, at: datetime) -> bool:
    """Some member's last order is at `at` or later (from `ix_member_last_purchase_at`)."""
    later = sa.select(member.c.id).where(member.c.last_purchase_at >= at).limit(1)
    return connection.execute(later).first() is not None


# Members who acted since a period's end that the report checks one by one (an index probe
# each) rather than reading the period's events once.
FEW_SINCE = 50_000


def few_since(connection: Connection, last: sa.Column[Any], end: datetime) -> bool:
    """At most FEW_SINCE members have `last` (an indexed time on the member row) at or after
    `end`: counted from the index, stopping past the bound."""
    later = sa.select(member.c.id).where(last >= end).limit(FEW_SINCE + 1).subquery()
    counted = connection.execute(sa.select(sa.func.count()).select_from(later)).scalar_one()
    return int(counted) <= FEW_SINCE


def _buyers_from_rows(connection: Connection, by: str | None, period: Period) -> dict[str, int]:
    """Members per group with an order in the period: their last order is in it (counted from
    its index), or later and they have one in it too (a probe of their orders, for the few who
    bought since the end)."""
    group = group_column(by).label("g")
    ordered_in_period = (
        sa.select(previous.c.event_id)
        .where(
            previous.c.member_id == member.c.id,
            previous.c.occurred_at >= period.start,
            previous.c.occurred_at < period.end,
        )
        .exists()
    )
    last_in_period = sa.and_(
        member.c.last_purchase_at >= period.start, member.c.last_purchase_at < period.end
    )
    bought_again = sa.and_(member.c.last_purchase_at >= period.end, ordered_in_period)
    buyers: dict[str, int] = {}
    for condition in (last_in_period, bought_again):
        query = sa.select(group, sa.func.count().label("buyers")).where(condition).group_by(group)
        for row in connection.execute(query):
            buyers[row.g] = buyers.get(row.g, 0) + int(row.buyers)
    return buyers


def aov_by_tier(connection: Connection, period: Period) -> list[TierAov]:
    """By the member's current tier (tiers at the time of each order are not recorded)."""
    rows = connection.execute(_purchases("tier", period.start, period.end, buyers=False))
    return [
        TierAov(
            tier=row.g or NO_GROUP,
            orders=int(row.orders or 0),
            revenue=money(row.revenue),
            average_order_value=money_ratio(money(row.revenue), int(row.orders or 0)),
        )
        for row in rows
    ]
