"""What a refund takes back: the points its purchase actually earned, promotions included.

A refund is a `purchase` with a negative amount. When it names the order (`order_id`, as
Segment's "Order Refunded" does and as the purchase did), it takes back the share of the
order's earned points that the refunded share of its amount stands for: a full refund takes
back every point the order earned, multipliers included, and the ledger row names the
promotion; partial refunds take back their share, and together never more than the order
earned. A refund that names no order, or an order not on file, takes back what its amount
earns at the base rate (`points_per_unit`).
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import String, cast, func
from sqlmodel import Session, col, select

from loyalflow.models.points_tables import PointsLedger
from loyalflow.models.tables import Event, Member
from loyalflow.rules.loyalty import LoyaltyRules


@dataclass(frozen=True)
class PointsBack:
    points: int  # negative, or 0
    promotion: str | None  # the promotion(s) that multiplied the order's points


def points_back(
    session: Session, member: Member, refund: Event, amount: Decimal, rules: LoyaltyRules
) -> PointsBack:
    """`amount` is the refund's (negative). Reads the member's events of the same order on the
    (member, type, time) index: a handful of rows."""
    base = PointsBack(rules.points_for(amount), None)
    order_id = refund.properties.get("order_id")
    if order_id is None:
        return base
    order = session.exec(
        select(Event.event_id, Event.properties).where(
            Event.member_id == member.id,
            Event.type == "purchase",
            Event.event_id != refund.event_id,
            cast(col(Event.properties)["order_id"].as_string(), String) == str(order_id),
        )
    ).all()
    bought = [(event_id, _amount(props)) for event_id, props in order if _amount(props) > 0]
    refunded = [(event_id, -_amount(props)) for event_id, props in order if _amount(props) < 0]
    paid = sum((value for _, value in bought), Decimal(0))
    if paid == 0:
        return base
    earned_rows = session.exec(
        select(PointsLedger.points, PointsLedger.promotion).where(
            col(PointsLedger.event_id).in_([event_id for event_id, _ in bought]),
            PointsLedger.kind == "earned",
        )
    ).all()
    earned = int(sum(points for points, _ in earned_rows))
    promotion = next((name for _, name in earned_rows if name), None)
    taken_before = -int(  # PostgreSQL sums a BIGINT as NUMERIC
        session.exec(
            select(func.coalesce(func.sum(PointsLedger.points), 0)).where(
                col(PointsLedger.event_id).in_([event_id for event_id, _ in refunded]),
                PointsLedger.kind == "reversed",
            )
        ).one()
    )
    refunded_total = sum((value for _, value in refunded), Decimal(0)) - amount
    due = earned if refunded_total >= paid else math.floor(earned * refunded_total / paid)
    return PointsBack(-max(0, due - taken_before), promotion)


def _amount(properties: Mapping[str, object]) -> Decimal:
    return Decimal(str(properties.get("amount", 0)))
