"""How events change a member: counters, points, tier, consent, profile; and the derived events.

Runs inside the ingest transaction, with the member row locked, so concurrent events for one
member apply one after the other and derived events (e.g. `purchase.first`) happen exactly once.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlmodel import Session, col, select

from loyalflow.members import (
    activity_months,
    points_ledger,
    promotions,
    purchase_previous,
    redemption,
    referrals,
    refunds,
    tiers,
)
from loyalflow.models.api import ConsentChange, MemberIn
from loyalflow.models.column_types import utcnow
from loyalflow.models.tables import Consent, Event, Member
from loyalflow.rules.loyalty import LoyaltyRules

SPEND_WINDOW = timedelta(days=365)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Derived:
    type: str
    properties: dict[str, Any] = field(default_factory=dict)
    member_id: str | None = None  # another member's event (a referrer's bonus); None: this one


# What the member did themselves. Points a journey awards or a profile an admin edits are not
# activity: a win-back bonus must not make the member look active again.
MEMBER_ACTIVITY = frozenset({"member.joined", "purchase", "visit"})


def apply_profile(member: Member, data: MemberIn) -> None:
    """Only the fields present in `data` change; attributes merge key by key."""
    for name in data.model_fields_set:
        value = getattr(data, name)
        if name == "attributes":
            value = {**member.attributes, **value}
        setattr(member, name, value)
    member.updated_at = utcnow()


def apply_event(
    session: Session, member: Member, event: Event, rules: LoyaltyRules
) -> list[Derived]:
    at: datetime = event.occurred_at
    if event.type in MEMBER_ACTIVITY:
        member.last_activity_at = max(filter(None, (member.last_activity_at, at)))
        points_ledger.extend_rolling_expiry(session, member, rules.points_expiry)
        spent = money(event.properties.get("amount", 0)) if event.type == "purchase" else None
        activity_months.note_activity(session, member.id, at, spent)
    member.updated_at = utcnow()
    derived: list[Derived] = []
    tier_before = member.tier or rules.tiers.tier_for(0)
    points_before = member.points

    if event.type == "member.joined" and member.joined_at is None:
        activity_months.note_cohort_move(session, member.id, member.created_at, at)
        member.joined_at = at
    elif event.type == "purchase":
        derived += _purchase(session, member, event, rules)
    elif event.type == "points.adjusted":
        points = int(event.properties["points"])
        # Points a journey (or, later, a referral or birthday) gives are a bonus; the rest are
        # corrections by staff or an import.
        kind = "bonus" if points > 0 and event.properties.get("source") else "adjusted"
        _ledger(session, member, event, rules, kind, points)
    elif event.type == "member.referred":
        referrals.refer(session, member, event, rules)
    elif event.type == "redemption.cancelled":
        redemption.cancel(session, member, event, rules)
    elif event.type == "consent.updated":
        _consent(session, member, ConsentChange.model_validate(event.properties), at)
    elif event.type == "profile.updated":
        apply_profile(member, MemberIn.model_validate(event.properties))

    unmoved = member.points == points_before and event.type != "purchase"
    if unmoved and member.tier is not None and rules.tiers.downgrade == "never":
        return derived  # no basis moved up, and none may take the tier down: no query for it
    basis = _basis(session, member, event, rules)
    return derived + _settle_tier(session, member, rules, at, tier_before, basis)


def _settle_tier(
    session: Session,
    member: Member,
    rules: LoyaltyRules,
    at: datetime,
    tier_before: str,
    basis: int | Decimal,
    other: str | None = None,
) -> list[Derived]:
    """The member's tier for `basis`, and the `tier.*` events that follow (`other`: the
    member's id when they are not the event's own member, e.g. a referrer)."""
    member.tier = rules.tiers.settle(tier_before, basis)
    derived = []
    near = tiers.near_next(session, member, rules.tiers, basis, at)
    if near is not None:
        derived.append(Derived("tier.near_next", near, other))
    if member.tier != tier_before:
        change = (
            "upgraded"
            if rules.tiers.rank(member.tier) > rules.tiers.rank(tier_before)
            else "downgraded"
        )
        derived.append(Derived(f"tier.{change}", {"from": tier_before, "to": member.tier}, other))
    return derived


def money(value: object) -> Decimal:
    """Through `str`, so 120.99 stays 120.99 and is not the nearest binary float."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_EVEN)


def _ledger(
    session: Session,
    member: Member,
    event: Event,
    rules: LoyaltyRules,
    kind: str,
    points: int,
    promotion: str | None = None,
) -> None:
    points_ledger.record(
        session,
        member,
        kind=kind,
        points=points,
        at=event.occurred_at,
        expiry=rules.points_expiry,
        event_id=event.event_id,
        promotion=promotion,
    )


def _purchase(session: Session, member: Member, event: Event, rules: LoyaltyRules) -> list[Derived]:
    amount = money(event.properties.get("amount", 0))
    if amount < 0:  # a refund: the points its order earned, promotions included
        back = refunds.points_back(session, member, event, amount, rules)
        points, promotion = back.points, back.promotion
    else:
        earned = promotions.earning(member, event, rules.points_for(amount), rules)
        points, promotion = earned.points, earned.promotion
    kind = "earned" if points >= 0 else "reversed"
    _ledger(session, member, event, rules, kind, points, promotion)
    member.total_spent = money(member.total_spent) + amount
    if amount < 0:  # a refund: money and points go back, it is not another purchase
        purchase_previous.note_refund(
            session, member.id, event.occurred_at, member.last_purchase_at
        )
        return []
    member.purchase_count += 1
    purchase_previous.note_order(
        session, member.id, event.event_id, event.occurred_at, member.last_purchase_at
    )
    member.first_purchase_at = min(filter(None, (member.first_purchase_at, event.occurred_at)))
    member.last_purchase_at = max(filter(None, (member.last_purchase_at, event.occurred_at)))
    if member.purchase_count == 1:
        derived = [Derived("purchase.first", {"amount": float(amount), "points": points})]
        for who, props in referrals.convert(session, member, event, rules):
            if who == member.id:  # the event's own member: its tier is settled after this
                derived.append(Derived("referral.converted", props))
                continue
            derived.append(Derived("referral.converted", props, who))
            derived += _referrer_tier(session, who, event, rules)
        return derived
    return []


def _referrer_tier(
    session: Session, referrer_id: str, event: Event, rules: LoyaltyRules
) -> list[Derived]:
    """The referrer's bonus is points too: it may lift their tier (a balance or points-earned
    basis; spend is untouched)."""
    if rules.tiers.basis == "spend_12m":
        return []
    referrer = session.get(Member, referrer_id)  # locked by the conversion, in the session
    assert referrer is not None
    if rules.tiers.basis == "points":
        basis: int = referrer.points
    else:
        since = event.occurred_at - tiers.TIER_WINDOW
        basis = tiers.points_earned_between(session, referrer.id, since, event.occurred_at)
    tier_before = referrer.tier or rules.tiers.tier_for(0)
    return _settle_tier(
        session, referrer, rules, event.occurred_at, tier_before, basis, referrer.id
    )


def _consent(session: Session, member: Member, change: ConsentChange, at: datetime) -> None:
    row = session.get(Consent, (member.id, change.channel, change.topic))
    if row is not None and row.at > at:
        return  # an older decision arriving late does not override a newer one
    if row is None:
        row = Consent(
            member_id=member.id, channel=change.channel, topic=change.topic, status=change.status
        )
    row.status, row.source, row.at = change.status, change.source, at
    session.add(row)


def _spend_12m(session: Session, member: Member, event: Event) -> Decimal:
    earlier = spend_between(
        session, member.id, event.occurred_at - SPEND_WINDOW, event.occurred_at, event.event_id
    )
    current = money(event.properties.get("amount", 0)) if event.type == "purchase" else Decimal(0)
    return earlier + current


def spend_between(
    session: Session, member_id: str, since: datetime, until: datetime, but: str | None = None
) -> Decimal:
    """Purchase amounts in (since, until], the event `but` left out."""
    query = select(Event.properties).where(
        Event.member_id == member_id,
        Event.type == "purchase",
        col(Event.occurred_at) > since,
        col(Event.occurred_at) <= until,
    )
    if but is not None:
        query = query.where(Event.event_id != but)
    return sum((money(props.get("amount", 0)) for props in session.exec(query)), Decimal(0))


def _basis(session: Session, member: Member, event: Event, rules: LoyaltyRules) -> int | Decimal:
    if rules.tiers.basis == "points":
        return member.points
    if rules.tiers.basis == "points_earned_12m":
        since = event.occurred_at - tiers.TIER_WINDOW
        return tiers.points_earned_between(session, member.id, since, event.occurred_at)
    return _spend_12m(session, member, event)
