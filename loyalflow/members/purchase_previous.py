"""Keeps `purchase_previous` (models/activity_tables.py) as orders are applied: each order with
the member's state strictly before it (previous order, orders, net spend), for RFM's state at a
past instant.

An order arriving in time order (after the member's last) takes the member row's
`last_purchase_at` as it was; its orders and spend before it are counted from the member's
purchase events in the INSERT itself (the events are flushed first), so a refund stored earlier
but dated later is left out as it must be. A late order (at or before the member's last order)
or a late refund (before it) changes the state before the orders that follow it: the member's
rows are recomputed from their events, in SQL, once per batch. Rows wait in the session and go
in one INSERT before it commits, like the activity months; one member's rows are only written
with that member's row locked.
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


def note_refund(
    session: Session, member_id: str, at: datetime, last_order: datetime | None
) -> None:
    """A refund at `at`; `last_order`: the member's `last_purchase_at`. Dated before an order
    already kept, it changes the net spend before that order."""
    if last_order is not None and at < last_order:
        batch_until_commit(session, _PENDING, _Pending, _write_pending).late_members.add(member_id)


# The member's purchase events strictly before an instant (orders at the same instant share their
# state before): read from the per-member index, which holds the amounts.
_EVENTS_BEFORE = """FROM event AS e WHERE e.member_id = {member} AND e.type = 'purchase'
      AND e.occurred_at < {at}"""
_ORDERS_BEFORE = "SELECT COUNT(*) " + _EVENTS_BEFORE + " AND COALESCE(e.amount, 0) >= 0"
_SPENT_BEFORE = "SELECT COALESCE(SUM(COALESCE(e.amount, 0)), 0) " + _EVENTS_BEFORE

_INSERT = f"""
INSERT INTO purchase_previous
    (event_id, member_id, occurred_at, previous_at, orders_before, spent_before)
SELECT :event_id, m.id, :occurred_at, :previous_at,
       ({_ORDERS_BEFORE.format(member="m.id", at=":occurred_at")}),
       ({_SPENT_BEFORE.format(member="m.id", at=":occurred_at")})
FROM member AS m WHERE m.id = :member_id"""

# Every row's state before it from the member's orders and events.
_OF_ROW = {"member": "purchase_previous.member_id", "at": "purchase_previous.occurred_at"}
_RECOMPUTE = f"""
UPDATE purchase_previous SET
    previous_at = (
        SELECT MAX(o.occurred_at) FROM purchase_previous AS o
        WHERE o.member_id = purchase_previous.member_id
          AND o.occurred_at < purchase_previous.occurred_at),
    orders_before = ({_ORDERS_BEFORE.format(**_OF_ROW)}),
    spent_before = ({_SPENT_BEFORE.format(**_OF_ROW)})
WHERE member_id IN :members"""


def _write_pending(session: OrmSession, pending: _Pending) -> None:
    if not pending.rows and not pending.late_members:
        return
    session.flush()  # the batch's events: the state before each order counts them
    if pending.rows:
        statement = text(_INSERT).bindparams(
            sa.bindparam("occurred_at", type_=purchase_previous.c.occurred_at.type),
            sa.bindparam("previous_at", type_=purchase_previous.c.previous_at.type),
        )
        session.execute(statement, pending.rows)
    if pending.late_members:
        statement = text(_RECOMPUTE).bindparams(sa.bindparam("members", expanding=True))
        session.execute(statement, {"members": sorted(pending.late_members)})


# Rebuilt from the event history: what migration 0028 runs once (a copy: migrations stay as they
# were), and what a bulk load that bypassed ingestion (bench/report_data.py) runs after it.
_REBUILD = """
INSERT INTO purchase_previous
    (event_id, member_id, occurred_at, previous_at, orders_before, spent_before)
SELECT event_id, member_id, occurred_at, previous_at,
       COALESCE(orders_before, 0), COALESCE(spent_before, 0)
FROM (SELECT event_id, member_id, occurred_at, amount,
             MAX(CASE WHEN COALESCE(amount, 0) >= 0 THEN occurred_at END) OVER before
                 AS previous_at,
             SUM(CASE WHEN COALESCE(amount, 0) >= 0 THEN 1 ELSE 0 END) OVER before
                 AS orders_before,
             SUM(COALESCE(amount, 0)) OVER before AS spent_before
      FROM event WHERE type = 'purchase'
      WINDOW before AS (PARTITION BY member_id ORDER BY occurred_at
                        GROUPS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) AS history
WHERE COALESCE(amount, 0) >= 0"""


def rebuild(connection: sa.Connection) -> None:
    """Every row again from the events (in the caller's transaction)."""
    connection.execute(text("DELETE FROM purchase_previous"))
    connection.execute(text(_REBUILD))
