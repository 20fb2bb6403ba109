"""Points KPIs from the ledger: issued, redeemed, expired in the period, outstanding at its end
and its value, redemption rate and breakage (Open Loyalty's definitions: redeemed ÷ issued and
expired ÷ issued), and how redeeming members buy compared with the others.

Ledger kinds (members/points_ledger.py): a `reversed` row is negative when a refund takes back
earned points (less issued) and positive when a cancelled redemption gives points back (less
redeemed).
"""

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.sql.expression import ColumnElement

from loyalflow.analytics.kpi_models import BuyerBehaviour, Period, PointsKpis, PurchaseKpis
from loyalflow.analytics.sql import (
    amount,
    event,
    group_column,
    ledger,
    member,
    money,
    money_ratio,
    ratio,
)

_points = ledger.c.points
_kind = ledger.c.kind
ISSUED = sa.or_(
    _kind.in_(("opening", "earned", "bonus")),
    sa.and_(_kind == "adjusted", _points > 0),
    sa.and_(_kind == "reversed", _points < 0),
)
REDEEMED = sa.or_(_kind == "redeemed", sa.and_(_kind == "reversed", _points > 0))


def _sum(condition: ColumnElement[bool], sign: int = 1) -> ColumnElement[int]:
    return sa.func.sum(sa.case((condition, _points * sign), else_=0))


def points_kpis(
    connection: Connection, period: Period, point_value: Decimal, by: str | None, keys: set[str]
) -> dict[str, PointsKpis]:
    """For each group of `keys` and each group with points."""
    group = group_column(by).label("g")
    joined = ledger.join(member, member.c.id == ledger.c.member_id) if by is not None else ledger
    moved = connection.execute(
        sa.select(
            group,
            _sum(ISSUED).label("issued"),
            _sum(REDEEMED, -1).label("redeemed"),
            _sum(_kind == "expired", -1).label("expired"),
            _sum(sa.and_(_kind == "adjusted", _points < 0), -1).label("removed"),
        )
        .select_from(joined)
        .where(ledger.c.at >= period.start, ledger.c.at < period.end)
        .group_by(group)
    )
    flows = {row.g: row for row in moved}
    balances = {
        row.g: int(row.points or 0)
        for row in connection.execute(
            sa.select(group, sa.func.sum(member.c.points).label("points")).group_by(group)
        )
    }
    since_end = {
        row.g: int(row.points or 0)
        for row in connection.execute(
            sa.select(group, sa.func.sum(_points).label("points"))
            .select_from(joined)
            .where(ledger.c.at >= period.end)
            .group_by(group)
        )
    }
    figures: dict[str, PointsKpis] = {}
    for key in sorted(keys | set(flows) | set(balances) | set(since_end)):
        row = flows.get(key)
        issued, redeemed, expired, removed = (
            (
                int(row.issued or 0),
                int(row.redeemed or 0),
                int(row.expired or 0),
                int(row.removed or 0),
            )
            if row
            else (0, 0, 0, 0)
        )
        outstanding = balances.get(key, 0) - since_end.get(key, 0)
        figures[key] = PointsKpis(
            issued=issued,
            redeemed=redeemed,
            expired=expired,
            removed=removed,
            outstanding=outstanding,
            point_value=point_value,
            outstanding_value=money(outstanding * point_value),
            redemption_rate=ratio(redeemed, issued),
            breakage=ratio(expired, issued),
        )
    return figures


@dataclass(frozen=True)
class RedeemerRows:
    """The period's orders, revenue and buyers among the members who redeemed in it."""

    members: int
    buyers: int
    orders: int
    revenue: Decimal


def redeemer_rows(connection: Connection, period: Period) -> RedeemerRows:
    """Read from the redeemers' purchases alone (a few percent of the members): the others'
    figures are the period's totals less these (`redeemer_behaviour`), so nothing is grouped
    per member over every order of the period."""
    redeemers = (
        sa.select(ledger.c.member_id)
        .where(_kind == "redeemed", ledger.c.at >= period.start, ledger.c.at < period.end)
        .distinct()
        .cte()
        .prefix_with("MATERIALIZED")
    )
    row = connection.execute(
        sa.select(
            sa.func.sum(sa.case((amount() >= 0, 1), else_=0)).label("orders"),
            sa.func.sum(amount()).label("revenue"),
            sa.func.count(sa.distinct(sa.case((amount() >= 0, event.c.member_id)))).label("buyers"),
        )
        .select_from(event.join(redeemers, redeemers.c.member_id == event.c.member_id))
        .where(
            event.c.type == "purchase",
            event.c.occurred_at >= period.start,
            event.c.occurred_at < period.end,
        )
    ).one()
    members = connection.execute(sa.select(sa.func.count()).select_from(redeemers)).scalar_one()
    return RedeemerRows(
        members=int(members),
        buyers=int(row.buyers or 0),
        orders=int(row.orders or 0),
        revenue=money(row.revenue),
    )


def redeemer_behaviour(
    redeeming: RedeemerRows, members: int, everyone: PurchaseKpis
) -> tuple[BuyerBehaviour, BuyerBehaviour]:
    """(redeeming, not redeeming) members: a redemption in the period or none. `members`: all
    members at the period end; `everyone`: the period's purchase figures of all of them."""
    not_redeeming = RedeemerRows(
        members=members - redeeming.members,
        buyers=everyone.purchasers - redeeming.buyers,
        orders=everyone.orders - redeeming.orders,
        revenue=everyone.revenue - redeeming.revenue,
    )
    return _behaviour(redeeming), _behaviour(not_redeeming)


def _behaviour(rows: RedeemerRows) -> BuyerBehaviour:
    return BuyerBehaviour(
        members=rows.members,
        purchasers=rows.buyers,
        orders=rows.orders,
        revenue=rows.revenue,
        average_order_value=money_ratio(rows.revenue, rows.orders),
        purchase_frequency=ratio(rows.orders, rows.buyers),
    )
