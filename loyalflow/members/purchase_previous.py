"""Keeps `purchase_previous` (models/activity_tables.py) as orders are applied: each order with
the time of the member's previous one, for RFM's recency at a past instant.

An order arriving in time order (after the member's last) takes the member row's
`last_purchase_at` as it was. A late one (at or before the member's last order) makes the
member's rows be recomputed from their orders, in SQL, once per batch: its own previous order is
older than the last, and it becomes the previous of the order that followed it. Rows wait in the
session and go in one INSERT before it commits, like the activity months; one member's rows are
only written with that member's row locked.
"""

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from loyalflow.members.commit_batches import batch_until_commit
from loyalflow.models.activity_tables import PurchasePrevious
from loyalflow.models.rollup_tables import table_of

_PENDING = "purchase_previous.pending"
purchase_previous = table_of(PurchasePrevious)


@dataclass
class _Pending:
    rows: list[dict[str, object]] = field(default_factory=list)
    late_members: set[str] = field(default_factory=set)


def note_order(
    session: Session, member_id: str, event_id: str, at: datetime, last_before: datetime | None
) -> None:
    """An order of the member at `at`; `last_before`: their `last_purchase_at` before it."""
    pending = batch_until_commit(session, _PENDING, _Pending, _write_pending)
    in_order = last_before is None or last_before < at
    pending.rows.append(
        {
            "event_id": event_id,
            "member_id": member_id,
            "occurred_at": at,
            "previous_at": last_before if in_order else None,
        }
    )
    if not in_order:
        pending.late_members.add(member_id)


# Every row's previous order from the member's rows (strictly earlier: orders at the same instant
# share their previous one).
_RECOMPUTE = """
UPDATE purchase_previous SET previous_at = (
    SELECT MAX(o.occurred_at) FROM purchase_previous AS o
    WHERE o.member_id = purchase_previous.member_id
      AND o.occurred_at < purchase_previous.occurred_at)
WHERE member_id IN :members"""


def _write_pending(session: OrmSession, pending: _Pending) -> None:
    if not pending.rows:
        return
    session.execute(sa.insert(purchase_previous), pending.rows)
    if pending.late_members:
        statement = text(_RECOMPUTE).bindparams(sa.bindparam("members", expanding=True))
        session.execute(statement, {"members": sorted(pending.late_members)})


# Rebuilt from the event history: what migration 0026 runs once (a copy: migrations stay as they
# were), and what a bulk load that bypassed ingestion (bench/report_data.py) runs after it.
_REBUILD = """
INSERT INTO purchase_previous (event_id, member_id, occurred_at, previous_at)
SELECT event_id, member_id, occurred_at,
       MAX(occurred_at) OVER (PARTITION BY member_id ORDER BY occurred_at
                              GROUPS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
FROM event WHERE type = 'purchase' AND COALESCE(amount, 0) >= 0"""


def rebuild(connection: sa.Connection) -> None:
    """Every row again from the events (in the caller's transaction)."""
    connection.execute(text("DELETE FROM purchase_previous"))
    connection.execute(text(_REBUILD))
