"""The expiry sweep's page: expires the lots that are due and derives `points.expired` (and
`tier.downgraded` when the balance is the tier's basis and downgrades are immediate); derives
`points.expiring` for lots coming due within a reminder window, once per lot date and reminder.

One transaction per page of members, with their rows locked (in id order, as ingestion does):
an expiry never interleaves with a purchase or redemption of the same member. Idempotent: an
expired lot has nothing left, so a repeated or retried page expires nothing more, and reminder
event ids are derived from member, reminder and date.

Pages go by keyset over the open lots' partial index (member id, expiry), so the sweep reads that
index once whatever the number of pages. Lots with no expiry date (opening balances from migration
0012, lots earned while the policy was `never`) are dated when first met (points_dating.py).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, update
from sqlmodel import Session, col, select

from loyalflow.members.points_dating import date_open_lots
from loyalflow.members.points_ledger import OPEN_LOT
from loyalflow.members.tiers import tier_after_expiry
from loyalflow.models.db import session_scope
from loyalflow.models.points_tables import PointsLedger, PointsLot
from loyalflow.models.tables import Event, Member
from loyalflow.rules.loyalty import TierLadder
from loyalflow.rules.points_expiry import PointsExpiry


@dataclass(frozen=True)
class ExpiryPage:
    events: list[Event]
    scanned: int  # members looked at
    next_member_id: str | None
    expired_points: int = 0
    expired_lots: int = 0
    dated_lots: int = 0


@dataclass(frozen=True)
class _Member:
    id: str
    points: int
    tier: str | None
    last_activity_at: datetime | None


@dataclass(frozen=True)
class _Lot:
    id: int
    member_id: str
    expires_at: datetime
    remaining: int


def expiring_event_id(member_id: str, days: int, expires_at: datetime) -> str:
    return f"points.expiring/{days}d/{expires_at:%Y%m%dT%H%M%S}/{member_id}"


def expired_event_id(member_id: str, first_lot_id: int) -> str:
    # A lot expires once, so the first lot of an expiry names it for good.
    return f"points.expired/{first_lot_id}/{member_id}"


def expire_page(
    url: str,
    as_of: datetime,
    reminder_days: list[int],
    after_member_id: str | None,
    limit: int,
    *,
    expiry: PointsExpiry | None = None,
    ladder: TierLadder | None = None,
) -> ExpiryPage:
    """A few statements per page, whatever its size (bench/points_expiry.py). `expiry`: the
    policy that dates undated lots (None: leave them); `ladder`: the tiers, lowered when a
    balance-based tier falls with the points (None: tiers untouched)."""
    horizon = as_of + timedelta(days=max(reminder_days, default=0))
    dating = expiry is not None and expiry.policy != "never"
    with session_scope(url) as session:
        member_ids = _page_members(session, after_member_id, horizon, limit, dating)
        if not member_ids:
            return ExpiryPage(events=[], scanned=0, next_member_id=None)
        members = {
            row[0]: _Member(*row)
            for row in session.exec(
                select(Member.id, Member.points, Member.tier, Member.last_activity_at)
                .where(col(Member.id).in_(member_ids))
                .order_by(col(Member.id))
                .with_for_update()
            )
        }
        dated = 0
        if dating:
            assert expiry is not None
            last_activity = {m.id: m.last_activity_at for m in members.values()}
            dated = date_open_lots(session, member_ids, last_activity, expiry, as_of)
        lots = [
            _Lot(*row)
            for row in session.exec(
                select(PointsLot.id, PointsLot.member_id, PointsLot.expires_at, PointsLot.remaining)
                .where(
                    col(PointsLot.member_id).in_(member_ids),
                    OPEN_LOT,
                    col(PointsLot.expires_at) <= horizon,
                )
                .order_by(col(PointsLot.member_id), col(PointsLot.expires_at), col(PointsLot.id))
            )
        ]
        due = [lot for lot in lots if _aware(lot.expires_at) <= as_of]
        coming = [lot for lot in lots if _aware(lot.expires_at) > as_of]
        events = _expire(session, members, due, as_of, ladder)
        events += _reminders(session, coming, as_of, reminder_days)
        if events:  # executemany: on PostgreSQL pipelined, faster than multi-row VALUES here
            session.execute(insert(Event), events)
        cursor = member_ids[-1] if len(member_ids) == limit else None
        return ExpiryPage(
            events=[Event.model_construct(**event) for event in events],
            scanned=len(member_ids),
            next_member_id=cursor,
            expired_points=sum(lot.remaining for lot in due),
            expired_lots=len(due),
            dated_lots=dated,
        )


def _page_members(
    session: Session, after_member_id: str | None, horizon: datetime, limit: int, dating: bool
) -> list[str]:
    """The next `limit` members with an open lot due by `horizon` (or undated, when dating)."""
    due = col(PointsLot.expires_at) <= horizon
    return list(
        session.exec(
            select(PointsLot.member_id)
            .where(
                col(PointsLot.member_id) > (after_member_id or ""),
                OPEN_LOT,
                or_(due, col(PointsLot.expires_at).is_(None)) if dating else due,
            )
            .distinct()
            .order_by(col(PointsLot.member_id))
            .limit(limit)
        )
    )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _event(
    event_id: str,
    member_id: str,
    type: str,
    at: datetime,
    caused_by: str | None = None,
    **properties: object,
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "member_id": member_id,
        "type": type,
        "occurred_at": at,
        "received_at": datetime.now(UTC),
        "properties": properties,
        "caused_by": caused_by,
        "routed": False,
    }


def _expire(
    session: Session,
    members: dict[str, _Member],
    due: list[_Lot],
    as_of: datetime,
    ladder: TierLadder | None,
) -> list[dict[str, Any]]:
    by_member: dict[str, list[_Lot]] = defaultdict(list)
    for lot in due:
        by_member[lot.member_id].append(lot)
    events: list[dict[str, Any]] = []
    ledger: list[dict[str, Any]] = []
    tiers: dict[str, str] = {}  # the members whose tier falls with their points
    for member_id, member_lots in by_member.items():
        member = members[member_id]
        amount = sum(lot.remaining for lot in member_lots)
        event_id = expired_event_id(member_id, min(lot.id for lot in member_lots))
        balance = member.points - amount
        tier = tier_after_expiry(ladder, member.tier, balance)
        ledger.append(
            {
                "member_id": member_id,
                "at": as_of,
                "kind": "expired",
                "points": -amount,
                "event_id": event_id,
                "promotion": None,
                "lot_id": None,
                "lots": [[lot.id, lot.remaining] for lot in member_lots],
            }
        )
        events.append(
            _event(
                event_id,
                member_id,
                "points.expired",
                as_of,
                amount=amount,
                lots=len(member_lots),
                balance=balance,
            )
        )
        if tier is not None and tier != member.tier:
            tiers[member_id] = tier
            events.append(
                _event(
                    f"{event_id}/tier.downgraded",
                    member_id,
                    "tier.downgraded",
                    as_of,
                    caused_by=event_id,
                    **{"from": member.tier, "to": tier},
                )
            )
    if due:
        _write_expiry(session, list(by_member), as_of, ledger, tiers)
    return events


def _write_expiry(
    session: Session,
    member_ids: list[str],
    as_of: datetime,
    ledger: list[dict[str, Any]],
    tiers: dict[str, str],
) -> None:
    """Set-based, a handful of statements per page whatever the number of lots: balances
    lowered by what is due (before the lots are emptied), due lots emptied, the ledger rows;
    only the members whose tier moves get an UPDATE of their own."""
    due = (
        col(PointsLot.member_id).in_(member_ids),
        OPEN_LOT,
        col(PointsLot.expires_at) <= as_of,
    )
    expiring = select(func.sum(PointsLot.remaining)).where(
        col(PointsLot.member_id) == col(Member.id), *due[1:]
    )
    session.execute(
        update(Member)
        .where(col(Member.id).in_(member_ids))
        .values(points=col(Member.points) - expiring.scalar_subquery())
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(PointsLot)
        .where(*due)
        .values(remaining=0)
        .execution_options(synchronize_session=False)
    )
    session.execute(insert(PointsLedger), ledger)
    for tier in set(tiers.values()):  # one UPDATE per tier the members fall to
        session.execute(
            update(Member)
            .where(col(Member.id).in_([m for m, to in tiers.items() if to == tier]))
            .values(tier=tier)
            .execution_options(synchronize_session=False)
        )


def _reminders(
    session: Session, coming: list[_Lot], as_of: datetime, reminder_days: list[int]
) -> list[dict[str, Any]]:
    """One `points.expiring` per member, expiry date and reminder: the smallest reminder window
    a lot is in (a lot due in 5 days gets the 7-day reminder, not a late 30-day one)."""
    amounts: dict[tuple[str, int, datetime], int] = defaultdict(int)
    for lot in coming:
        expires_at = _aware(lot.expires_at)
        windows = [d for d in reminder_days if expires_at - as_of <= timedelta(days=d)]
        if windows:
            amounts[(lot.member_id, min(windows), expires_at)] += lot.remaining
    ids = {expiring_event_id(m, d, at): (m, d, at) for m, d, at in amounts}
    if not ids:
        return []
    sent = set(session.exec(select(Event.event_id).where(col(Event.event_id).in_(ids))))
    return [
        _event(
            event_id,
            member_id,
            "points.expiring",
            as_of,
            amount=amounts[(member_id, days, expires_at)],
            expires_at=expires_at.isoformat(),
            days=days,
        )
        for event_id, (member_id, days, expires_at) in ids.items()
        if event_id not in sent
    ]
