"""The points ledger: every change of a member's points is a row, written in the caller's
transaction with the member row locked; earnings form lots, spending takes the oldest first.

Invariants (tests/members/test_points_ledger.py checks them on random event sequences):
`member.points` == sum of the member's ledger rows; the lots' `remaining` add up to the balance
when it is positive and to 0 when a refund took back points already spent (a debt, which the
next earnings repay before forming a lot).
"""

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from loyalflow.models.tables import Member, PointsLedger, PointsLot
from loyalflow.rules.points_expiry import PointsExpiry

EARNING_KINDS = frozenset({"opening", "earned", "bonus", "reversed", "adjusted"})


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
) -> PointsLedger | None:
    """One ledger row for a change of `points` (signed); None when there is nothing to record."""
    if points == 0:
        return None
    row = PointsLedger(
        member_id=member.id, at=at, kind=kind, points=points, event_id=event_id, promotion=promotion
    )
    if points > 0:
        lot_size = min(points, max(0, member.points + points))  # a debt is repaid first
        if lot_size > 0:
            lot = PointsLot(
                member_id=member.id,
                earned_at=at,
                expires_at=expiry.expires_at(at, member.last_activity_at),
                original=lot_size,
                remaining=lot_size,
                event_id=event_id,
            )
            row.lot = lot  # the flush inserts the lot first and fills row.lot_id
    else:
        row.lots = consume(session, member.id, -points)
    member.points += points
    session.add(row)
    return row


def consume(session: Session, member_id: str, points: int) -> list[list[int]]:
    """Takes `points` from the member's open lots, oldest first; returns [[lot_id, taken], ...].
    Taking more than the lots hold leaves the rest as a debt (the balance goes below zero)."""
    taken: list[list[int]] = []
    lots = session.exec(
        select(PointsLot)
        .where(PointsLot.member_id == member_id, col(PointsLot.remaining) > 0)
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
        .where(col(PointsLot.member_id) == member.id, col(PointsLot.remaining) > 0)
        .values(expires_at=expiry.expires_at(member.last_activity_at, None))
    )
