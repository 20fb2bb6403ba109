"""The points ledger: every change of a member's points is a row, written in the caller's
transaction with the member row locked; earnings form lots, spending takes the oldest first.

Invariants (tests/members/test_points_ledger.py checks them on random event sequences):
`member.points` == sum of the member's ledger rows; the lots' `remaining` add up to the balance
when it is positive and to 0 when a refund took back points already spent (a debt, which the
next earnings repay before forming a lot).
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, literal_column, update
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from loyalflow.models.points_tables import PointsLedger, PointsLot
from loyalflow.models.tables import Member
from loyalflow.rules.points_expiry import PointsExpiry

EARNING_KINDS = frozenset({"opening", "earned", "bonus", "reversed", "adjusted"})
_PENDING = "points_ledger.pending"
# A literal, not a bound parameter, so both databases match the open lots' partial index.
OPEN_LOT = col(PointsLot.remaining) > literal_column("0")


@dataclass
class _Pending:
    lots: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


def record(
    session: Session,
    member: Member,
    *,
    kind: str,
    points: int,
    at: datetime,
    expiry: PointsExpiry,
    event_id: str | None = None,
    promotion: str | None = None,
    lots: list[list[int]] | None = None,
) -> None:
    """One ledger row for a change of `points` (signed); nothing when there is nothing to
    record. `lots`: what a positive change gave back to which lots (it then forms no new lot).

    Rows and new lots wait in the session and are written together (one INSERT each per
    batch, not one per row with its generated id) before the session next reads anything or
    commits; an earned row and its lot share the event id.
    """
    if points == 0:
        return
    pending = _pending(session)
    if points > 0 and lots is None:
        lot_size = min(points, max(0, member.points + points))  # a debt is repaid first
        if lot_size > 0:
            pending.lots.append(
                {
                    "member_id": member.id,
                    "earned_at": at,
                    "expires_at": expiry.expires_at(at, member.last_activity_at),
                    "original": lot_size,
                    "remaining": lot_size,
                    "event_id": event_id,
                }
            )
    elif points < 0:
        lots = consume(session, member.id, -points)  # reads the lots: the pending ones first
    member.points += points
    pending.rows.append(
        {
            "member_id": member.id,
            "at": at,
            "kind": kind,
            "points": points,
            "event_id": event_id,
            "promotion": promotion,
            "lot_id": None,
            "lots": lots or [],
        }
    )


def write_pending(session: OrmSession) -> None:
    """Writes the rows and lots `record` keeps back (it runs by itself before a read or the
    commit; callers need not)."""
    pending: _Pending | None = session.info.get(_PENDING)
    if pending is None or not (pending.lots or pending.rows):
        return
    lots, rows = pending.lots, pending.rows
    pending.lots, pending.rows = [], []
    if lots:
        session.execute(insert(PointsLot), lots)
    if rows:
        session.execute(insert(PointsLedger), rows)


def _pending(session: Session) -> _Pending:
    pending: _Pending | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = _Pending()
        event.listen(session, "do_orm_execute", _before_reading)
        event.listen(session, "before_commit", write_pending)
    return pending


def _before_reading(state: ORMExecuteState) -> None:
    """Like an autoflush (and not inside `no_autoflush`): the statement about to run sees the
    batch's own rows."""
    if state.session.autoflush:
        write_pending(state.session)


def consume(session: Session, member_id: str, points: int) -> list[list[int]]:
    """Takes `points` from the member's open lots, oldest first; returns [[lot_id, taken], ...].
    Taking more than the lots hold leaves the rest as a debt (the balance goes below zero)."""
    taken: list[list[int]] = []
    lots = session.exec(
        select(PointsLot)
        .where(PointsLot.member_id == member_id, OPEN_LOT)
        .order_by(col(PointsLot.earned_at), col(PointsLot.id))
    )
    for lot in lots:
        if points == 0:
            break
        take = min(points, lot.remaining)
        lot.remaining -= take
        points -= take
        session.add(lot)
        assert lot.id is not None
        taken.append([lot.id, take])
    return taken


def extend_rolling_expiry(session: Session, member: Member, expiry: PointsExpiry) -> None:
    """Under the `rolling` policy, an activity of the member pushes back the expiry of every
    lot they still hold: one UPDATE, whatever the number of lots."""
    if expiry.policy != "rolling" or member.last_activity_at is None:
        return
    session.execute(
        update(PointsLot)
        .where(col(PointsLot.member_id) == member.id, OPEN_LOT)
        .values(expires_at=expiry.expires_at(member.last_activity_at, None))
    )
