"""Referrals: `member.referred` names the new member's referrer; both get points (per
loyalty.yaml `referrals`) when the referred member makes a first purchase, with a derived
`referral.converted` on each side. Guards refuse, naming the field: self-referral, an unknown
referrer, a second referrer, the referrer's own email or phone, the referrer's monthly cap.
"""

from datetime import UTC

from sqlmodel import Session, col, func, select

from loyalflow.members import points_ledger
from loyalflow.members.redemption import EventRefused
from loyalflow.models.points_tables import Referral
from loyalflow.models.tables import Event, Member
from loyalflow.rules.loyalty import LoyaltyRules

FIELD = "properties.referrer_id"
_KNOWN = "referrals.known"  # session.info: member id -> their referral (None: not referred)


def refer(session: Session, member: Member, event: Event, rules: LoyaltyRules) -> None:
    referrer_id = str(event.properties["referrer_id"])
    if referrer_id == member.id:
        raise EventRefused(FIELD, "a member cannot refer themselves")
    referrer = session.get(Member, referrer_id)
    if referrer is None:
        raise EventRefused(FIELD, f"no member {referrer_id!r} to be the referrer")
    existing = session.get(Referral, member.id)
    if existing is not None:
        raise EventRefused(
            FIELD, f"member {member.id!r} was already referred by {existing.referrer_id!r}"
        )
    if member.email and referrer.email and member.email.lower() == referrer.email.lower():
        raise EventRefused(FIELD, "the referred member has the referrer's email address")
    if member.phone and member.phone == referrer.phone:
        raise EventRefused(FIELD, "the referred member has the referrer's phone number")
    month = event.occurred_at.astimezone(UTC).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    next_month = month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)
    this_month = session.exec(
        select(func.count()).where(
            Referral.referrer_id == referrer_id,
            col(Referral.at) >= month,
            col(Referral.at) < next_month,
        )
    ).one()
    if this_month >= rules.referrals.monthly_cap:
        raise EventRefused(
            FIELD,
            f"referrer {referrer_id!r} reached the cap of {rules.referrals.monthly_cap} "
            f"referrals in {month:%B %Y}",
        )
    referral = Referral(
        member_id=member.id, referrer_id=referrer_id, at=event.occurred_at, event_id=event.event_id
    )
    session.add(referral)
    session.info.setdefault(_KNOWN, {})[member.id] = referral


def look_up(session: Session, members: list[Member]) -> None:
    """One query for the referrals of a batch's members who have not bought yet (whose next
    purchase may convert one), locked; `convert` then asks nothing more of the database."""
    first_timers = [m.id for m in members if m.purchase_count == 0]
    if not first_timers:
        return
    known: dict[str, Referral | None] = session.info.setdefault(_KNOWN, {})
    known.update(dict.fromkeys(first_timers))
    with session.no_autoflush:
        found = session.exec(
            select(Referral).where(col(Referral.member_id).in_(first_timers)).with_for_update()
        )
        known.update({referral.member_id: referral for referral in found})


def convert(
    session: Session, member: Member, event: Event, rules: LoyaltyRules
) -> list[tuple[str, dict[str, object]]]:
    """At the referred member's first purchase: both members' bonuses. Returns the
    `referral.converted` properties to derive, per member id (the referred member first)."""
    known: dict[str, Referral | None] = session.info.setdefault(_KNOWN, {})
    if member.id in known:  # looked up with the batch, or referred earlier in this batch
        referral = known[member.id]
    else:
        # Without an autoflush: flushing the batch's pending rows at each first purchase would
        # slow ingestion several times over.
        with session.no_autoflush:
            referral = session.get(Referral, member.id, with_for_update=True)
    if referral is None or referral.converted_at is not None:
        return []
    referral.converted_at = event.occurred_at
    session.add(referral)
    # Locked after the batch's own members; referral chains have no cycles (one referrer per
    # member, never oneself), so two conversions cannot wait for each other.
    referrer = session.get(Member, referral.referrer_id, with_for_update=True)
    assert referrer is not None
    bonuses = (
        (member, rules.referrals.referred_points, "referred"),
        (referrer, rules.referrals.referrer_points, "referrer"),
    )
    derived: list[tuple[str, dict[str, object]]] = []
    for who, points, role in bonuses:
        points_ledger.record(
            session,
            who,
            kind="bonus",
            points=points,
            at=event.occurred_at,
            expiry=rules.points_expiry,
            event_id=f"{event.event_id}/referral.converted/{role}",
        )
        session.add(who)
        derived.append(
            (
                who.id,
                {
                    "role": role,
                    "points": points,
                    "referred_id": member.id,
                    "referrer_id": referrer.id,
                },
            )
        )
    return derived
