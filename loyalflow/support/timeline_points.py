"""Every points ledger movement as a timeline entry, with its cause (the member timeline adds
them: `entries += points_entries(session, member_id)` in support/timeline.py build_timeline)."""

from sqlmodel import Session, col, select

from loyalflow.models.points_tables import PointsLedger
from loyalflow.models.timeline import TimelineEntry

_WHAT = {
    "opening": "opening balance",
    "earned": "earned",
    "bonus": "bonus",
    "redeemed": "redeemed",
    "reversed": "given back",
    "expired": "expired",
    "adjusted": "adjusted",
}


def points_entries(session: Session, member_id: str) -> list[TimelineEntry]:
    rows = session.exec(
        select(PointsLedger)
        .where(PointsLedger.member_id == member_id)
        .order_by(col(PointsLedger.id))
    )
    return [points_entry(row) for row in rows]


def points_entry(row: PointsLedger) -> TimelineEntry:
    return TimelineEntry(
        at=row.at, kind="points", summary=_summary(row), event_id=row.event_id, reason=row.kind
    )


def _summary(row: PointsLedger) -> str:
    text = f"{row.points:+d} points {_WHAT.get(row.kind, row.kind)}"
    causes = []
    if row.promotion:
        causes.append(f"promotion {row.promotion}")
    if row.kind in ("expired", "redeemed") and len(row.lots) > 1:
        causes.append(f"from {len(row.lots)} lots")
    if row.event_id:
        causes.append(f"cause {row.event_id}")
    return f"{text} ({', '.join(causes)})" if causes else text
