"""The expiry sweep's page: expires the lots that are due and derives `points.expired`; derives
`points.expiring` for lots coming due within a reminder window, once per lot date and reminder.

One transaction per page of members, with their rows locked (in id order, as ingestion does):
an expiry never interleaves with a purchase or redemption of the same member. Idempotent: an
expired lot has nothing left, so a repeated or retried page expires nothing more, and reminder
event ids are derived from member, reminder and date.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event, Member, PointsLedger, PointsLot


@dataclass(frozen=True)
class ExpiryPage:
    events: list[Event]
    scanned: int  # members looked at
    next_member_id: str | None
    expired_points: int = 0
    expired_lots: int = 0


def expiring_event_id(member_id: str, days: int, expires_at: datetime) -> str:
    return f"points.expiring/{days}d/{expires_at:%Y%m%dT%H%M%S}/{member_id}"


def expired_event_id(member_id: str, first_lot_id: int) -> str:
    # A lot expires once, so the first lot of an expiry names it for good.
    return f"points.expired/{first_lot_id}/{member_id}"


def expire_page(
    url: str, as_of: datetime, reminder_days: list[int], after_member_id: str | None, limit: int
) -> ExpiryPage:
    horizon = as_of + timedelta(days=max(reminder_days, default=0))
    with session_scope(url) as session:
        member_ids = list(
            session.exec(
                select(PointsLot.member_id)
                .where(
                    col(PointsLot.member_id) > (after_member_id or ""),
                    col(PointsLot.expires_at) <= horizon,
                    col(PointsLot.remaining) > 0,
                )
                .distinct()
                .order_by(col(PointsLot.member_id))
                .limit(limit)
            )
        )
        if not member_ids:
            return ExpiryPage(events=[], scanned=0, next_member_id=None)
        members = {
            m.id: m
            for m in session.exec(
                select(Member)
                .where(col(Member.id).in_(member_ids))
                .order_by(col(Member.id))
                .with_for_update()
            )
        }
        lots = session.exec(
            select(PointsLot)
            .where(
                col(PointsLot.member_id).in_(member_ids),
                col(PointsLot.expires_at) <= horizon,
                col(PointsLot.remaining) > 0,
            )
            .order_by(col(PointsLot.member_id), col(PointsLot.expires_at), col(PointsLot.id))
        ).all()
        due = [lot for lot in lots if _expires_at(lot) <= as_of]
        coming = [lot for lot in lots if _expires_at(lot) > as_of]
        expired_points = sum(lot.remaining for lot in due)
        events = _expire(session, members, due, as_of)
        events += _reminders(session, coming, as_of, reminder_days)
        session.add_all(events)
        cursor = member_ids[-1] if len(member_ids) == limit else None
        return ExpiryPage(
            events=events,
            scanned=len(member_ids),
            next_member_id=cursor,
            expired_points=expired_points,
            expired_lots=len(due),
        )


def _expires_at(lot: PointsLot) -> datetime:
    assert lot.expires_at is not None
    return lot.expires_at


def _expire(
    session: Session, members: dict[str, Member], due: list[PointsLot], as_of: datetime
) -> list[Event]:
    by_member: dict[str, list[PointsLot]] = defaultdict(list)
    for lot in due:
        by_member[lot.member_id].append(lot)
    events: list[Event] = []
    for member_id, member_lots in by_member.items():
        amount = sum(lot.remaining for lot in member_lots)
        taken = [[lot.id, lot.remaining] for lot in member_lots if lot.id is not None]
        event_id = expired_event_id(member_id, min(lot_id for lot_id, _ in taken))
        member = members[member_id]
        member.points -= amount
        session.add(member)
        session.add(
            PointsLedger(
                member_id=member_id,
                at=as_of,
                kind="expired",
                points=-amount,
                event_id=event_id,
                lots=taken,
            )
        )
        events.append(
            Event(
                event_id=event_id,
                member_id=member_id,
                type="points.expired",
                occurred_at=as_of,
                properties={
                    "amount": amount,
                    "lots": len(member_lots),
                    "balance": member.points,
                },
            )
        )
    if due:  # one statement for the page, however many lots
        session.execute(
            update(PointsLot)
            .where(col(PointsLot.id).in_([lot.id for lot in due]))
            .values(remaining=0)
            .execution_options(synchronize_session=False)
        )
    return events


def _reminders(
    session: Session, coming: list[PointsLot], as_of: datetime, reminder_days: list[int]
) -> list[Event]:
    """One `points.expiring` per member, expiry date and reminder: the smallest reminder window
    a lot is in (a lot due in 5 days gets the 7-day reminder, not a late 30-day one)."""
    amounts: dict[tuple[str, int, datetime], int] = defaultdict(int)
    for lot in coming:
        left = _expires_at(lot) - as_of
        windows = [d for d in reminder_days if left <= timedelta(days=d)]
        if windows:
            amounts[(lot.member_id, min(windows), _expires_at(lot))] += lot.remaining
    candidates = {
        expiring_event_id(member_id, days, expires_at): Event(
            event_id=expiring_event_id(member_id, days, expires_at),
            member_id=member_id,
            type="points.expiring",
            occurred_at=as_of,
            properties={"amount": amount, "expires_at": expires_at.isoformat(), "days": days},
        )
        for (member_id, days, expires_at), amount in amounts.items()
    }
    if not candidates:
        return []
    sent = set(session.exec(select(Event.event_id).where(col(Event.event_id).in_(candidates))))
    return [event for event_id, event in candidates.items() if event_id not in sent]
