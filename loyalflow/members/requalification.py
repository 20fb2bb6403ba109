"""Tier requalification, one page of members at a time (the daily points sweep runs it).

On the requalification date (anniversary of joining, or a fixed date) a member whose basis over
the 12 months before it falls short of their tier drops to the tier they did earn
(`tier.downgraded`); `warn_days` before, `tier.will_downgrade` says what is needed to remain.
Both are measured over fixed windows and have ids derived from the date, so a repeated or
retried page derives nothing twice; a sweep missed for a few days still catches up.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, col, select

from loyalflow.members.state import spend_between
from loyalflow.members.tiers import TIER_WINDOW, points_earned_between
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event, Member
from loyalflow.rules.loyalty import Requalification, TierLadder

CATCH_UP = timedelta(days=7)  # a requalification date this recent is still applied


def requalify_page(
    url: str, ladder: TierLadder, as_of: datetime, after_member_id: str | None, limit: int
) -> tuple[list[Event], int, str | None]:
    """The page's new events, the number of members scanned and the cursor."""
    rule = ladder.requalification
    if rule is None:
        return [], 0, None
    lowest = ladder.levels[0].name
    with session_scope(url) as session:
        members = session.exec(
            select(Member)
            .where(
                col(Member.id) > (after_member_id or ""),
                col(Member.tier).is_not(None),
                Member.tier != lowest,
            )
            .order_by(col(Member.id))
            .limit(limit)
            .with_for_update()
        ).all()
        candidates: list[Event] = []
        for member in members:
            candidates += _member_events(session, member, ladder, rule, as_of)
        known = set(
            session.exec(
                select(Event.event_id).where(
                    col(Event.event_id).in_([e.event_id for e in candidates])
                )
            )
        )
        new = [event for event in candidates if event.event_id not in known]
        for event in new:
            if event.type == "tier.downgraded":
                member = next(m for m in members if m.id == event.member_id)
                member.tier = str(event.properties["to"])
                session.add(member)
        session.add_all(new)
        cursor = members[-1].id if len(members) == limit else None
        return new, len(members), cursor


def requalification_dates(
    member: Member, rule: Requalification, as_of: datetime
) -> tuple[datetime, datetime]:
    """The last requalification date on or before `as_of`, and the next one after it."""
    if rule.when == "fixed_date":
        assert rule.date is not None
        month, day = (int(part) for part in rule.date.split("-"))
    else:
        joined = member.joined_at or member.created_at
        month, day = joined.month, joined.day

    def on(year: int) -> datetime:
        try:
            return datetime(year, month, day, tzinfo=UTC)
        except ValueError:  # 29 February in a common year
            return datetime(year, month, day - 1, tzinfo=UTC)

    this_year = on(as_of.year)
    if this_year <= as_of:
        return this_year, on(as_of.year + 1)
    return on(as_of.year - 1), this_year


def _basis(session: Session, ladder: TierLadder, member_id: str, until: datetime) -> int | Decimal:
    since = until - TIER_WINDOW
    if ladder.basis == "spend_12m":
        return spend_between(session, member_id, since, until)
    return points_earned_between(session, member_id, since, until)


def _member_events(
    session: Session, member: Member, ladder: TierLadder, rule: Requalification, as_of: datetime
) -> list[Event]:
    last, upcoming = requalification_dates(member, rule, as_of)
    joined = member.joined_at or member.created_at
    current = ladder.levels[max(ladder.rank(member.tier), 0)]
    events: list[Event] = []
    if as_of - last < CATCH_UP and last - joined >= TIER_WINDOW:
        earned = ladder.tier_for(_basis(session, ladder, member.id, last))
        if ladder.rank(earned) < ladder.rank(current.name):
            events.append(
                Event(
                    event_id=f"tier.downgraded/{last:%Y%m%d}/{member.id}",
                    member_id=member.id,
                    type="tier.downgraded",
                    occurred_at=as_of,
                    properties={
                        "from": current.name,
                        "to": earned,
                        "requalification": last.date().isoformat(),
                    },
                )
            )
    elif rule.warn_days and upcoming - as_of <= timedelta(days=rule.warn_days):
        basis = _basis(session, ladder, member.id, as_of)
        if basis < current.threshold:
            needed = Decimal(str(current.threshold)) - Decimal(str(basis))
            events.append(
                Event(
                    event_id=f"tier.will_downgrade/{upcoming:%Y%m%d}/{member.id}",
                    member_id=member.id,
                    type="tier.will_downgrade",
                    occurred_at=as_of,
                    properties={
                        "tier": current.name,
                        "to": ladder.tier_for(basis),
                        "needed": int(needed)
                        if needed == needed.to_integral_value()
                        else float(needed),
                        "on": upcoming.date().isoformat(),
                    },
                )
            )
    return events
