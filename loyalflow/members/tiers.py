"""Tier facts beyond the ladder itself: `tier.near_next`, what the next tier needs, and the
points a member has expiring next (for templates, `GET /members/{id}` and the CLI)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, func, select

from loyalflow.models.member_view import PointsSummary
from loyalflow.models.points_tables import PointsLedger, PointsLot, Redemption
from loyalflow.models.tables import Event, Member
from loyalflow.rules.loyalty import TierLadder

NEAR_NEXT_PERIOD = timedelta(days=365)
TIER_WINDOW = timedelta(days=365)
EARNING_KINDS = ("earned", "bonus")


def points_earned_between(
    session: Session, member_id: str, since: datetime, until: datetime
) -> int:
    """Points earned (purchases, bonuses) in (since, until], summed in SQL. Refunds do not
    lower it: the `reversed` rows are not earnings, and expiry or spending never do."""
    total = session.exec(
        select(func.coalesce(func.sum(PointsLedger.points), 0)).where(
            PointsLedger.member_id == member_id,
            col(PointsLedger.kind).in_(EARNING_KINDS),
            col(PointsLedger.at) > since,
            col(PointsLedger.at) <= until,
        )
    ).one()
    return int(total)


def near_next(
    session: Session, member: Member, ladder: TierLadder, basis: float | Decimal, at: datetime
) -> dict[str, object] | None:
    """The properties of a `tier.near_next` to derive now, or None.

    Once per next tier and 12 months: the member's earlier `tier.near_next` events in that window
    (a handful at most, on the member/type/time index) say whether it was already sent.
    """
    if ladder.near_next_share is None:
        return None
    upcoming = ladder.next_level(member.tier)
    if (
        upcoming is None
        or not upcoming.threshold * ladder.near_next_share <= basis < upcoming.threshold
    ):
        return None
    earlier = session.exec(
        select(Event.properties).where(
            Event.member_id == member.id,
            Event.type == "tier.near_next",
            col(Event.occurred_at) > at - NEAR_NEXT_PERIOD,
        )
    )
    if any(props.get("next_tier") == upcoming.name for props in earlier):
        return None
    return {
        "tier": member.tier,
        "next_tier": upcoming.name,
        "needed": _number(Decimal(str(upcoming.threshold)) - Decimal(str(basis))),
    }


def tier_after_expiry(ladder: TierLadder | None, tier: str | None, balance: int) -> str | None:
    """The tier once points expired: lower only on a balance basis with immediate downgrades
    (points earned and spend do not change with expiry); never higher, and a member with no
    tier yet (never given an event) keeps none."""
    if ladder is None or ladder.basis != "points" or tier is None:
        return tier
    after = ladder.settle(tier, balance)
    return after if ladder.rank(after) < ladder.rank(tier) else tier


@dataclass(frozen=True)
class PointsFacts:
    next_tier: str | None
    points_to_next_tier: int | None  # None at the top, or when tiers are earned by spend
    points_expiring: int
    points_expiring_at: datetime | None


def points_facts(session: Session, member: Member, ladder: TierLadder) -> PointsFacts:
    upcoming = ladder.next_level(member.tier)
    to_next = None
    if upcoming is not None and ladder.basis == "points":
        to_next = max(0, int(upcoming.threshold) - member.points)
    next_expiry = session.exec(
        select(func.min(PointsLot.expires_at)).where(
            PointsLot.member_id == member.id, col(PointsLot.remaining) > 0
        )
    ).one()
    expiring = 0
    if next_expiry is not None:
        expiring = session.exec(
            select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(
                PointsLot.member_id == member.id,
                col(PointsLot.remaining) > 0,
                PointsLot.expires_at == next_expiry,
            )
        ).one()
    return PointsFacts(
        next_tier=upcoming.name if upcoming else None,
        points_to_next_tier=to_next,
        points_expiring=int(expiring),
        points_expiring_at=_aware(next_expiry),
    )


def loyalty_variables(session: Session, member: Member, ladder: TierLadder) -> dict[str, Any]:
    """The `member.*` template variables of models/template_vars.py LOYALTY_FIELDS."""
    facts = points_facts(session, member, ladder)
    return {
        "next_tier": facts.next_tier,
        "points_to_next_tier": facts.points_to_next_tier,
        "points_expiring": facts.points_expiring,
        "points_expiring_at": facts.points_expiring_at,
    }


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # SQLite's MIN() hands back the stored text, naive


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def points_summary(session: Session, member: Member, ladder: TierLadder) -> PointsSummary:
    """Balance, next expiry and lifetime totals: one GROUP BY over the member's ledger."""
    totals = dict(
        session.exec(
            select(PointsLedger.kind, func.sum(PointsLedger.points))
            .where(PointsLedger.member_id == member.id)
            .group_by(col(PointsLedger.kind))
        ).all()
    )
    facts = points_facts(session, member, ladder)
    redemptions_cancelled = session.exec(
        select(func.coalesce(func.sum(Redemption.cost), 0)).where(
            Redemption.member_id == member.id, Redemption.status == "cancelled"
        )
    ).one()
    return PointsSummary(
        balance=member.points,
        expiring_next=facts.points_expiring,
        expiring_at=facts.points_expiring_at,
        lifetime_earned=sum(int(totals.get(kind) or 0) for kind in ("opening", *EARNING_KINDS)),
        lifetime_redeemed=-int(totals.get("redeemed") or 0) - int(redemptions_cancelled),
        lifetime_expired=-int(totals.get("expired") or 0),
        tier=member.tier,
        next_tier=facts.next_tier,
        points_to_next_tier=facts.points_to_next_tier,
    )
