"""Keeps `member_activity_month` (models/activity_tables.py) as events are applied: each
activity adds to its (member, month) row, in the ingest transaction.

A batch's additions wait in the session and go in one upsert before it commits (one statement per
batch, not per event), like the points ledger's rows. Rows of one member are only written with
that member's row locked, so concurrent batches never add to the same row at once.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from loyalflow.members.commit_batches import batch_until_commit
from loyalflow.models.activity_tables import MemberActivityMonth
from loyalflow.models.rollup_tables import table_of

_PENDING = "activity_months.pending"
activity_month = table_of(MemberActivityMonth)


@dataclass
class _Month:
    purchases: int = 0
    spent: Decimal = Decimal(0)


class _Months(dict[tuple[str, int], _Month]):
    """A batch's additions by (member, month)."""


def month_of(at: datetime) -> int:
    """year * 12 + month of the instant in UTC (as `analytics.sql.month_index`)."""
    utc = at.astimezone(UTC)
    return utc.year * 12 + utc.month


def note_activity(
    session: Session, member_id: str, at: datetime, amount: Decimal | None = None
) -> None:
    """The member was active at `at`; `amount`: a purchase's (negative for a refund)."""
    pending = batch_until_commit(session, _PENDING, _Months, _write_pending)
    row = pending.setdefault((member_id, month_of(at)), _Month())
    if amount is not None:
        row.spent += amount
        row.purchases += 1 if amount >= 0 else 0


def _write_pending(session: OrmSession, pending: _Months) -> None:
    if not pending:
        return
    rows = [
        {"member_id": member_id, "month": month, "purchases": row.purchases, "spent": row.spent}
        for (member_id, month), row in sorted(pending.items())
    ]
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(activity_month)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[activity_month.c.member_id, activity_month.c.month],
            set_={
                "purchases": activity_month.c.purchases + insert.excluded.purchases,
                "spent": activity_month.c.spent + insert.excluded.spent,
            },
        ),
        rows,
    )


# Rebuilt from the event history: what migration 0021 runs once (a copy: migrations stay as they
# were), and what a bulk load that bypassed ingestion (bench/report_data.py) runs after it.
_MONTH_SQL = {
    "postgresql": "CAST(EXTRACT(YEAR FROM occurred_at AT TIME ZONE 'UTC') AS INTEGER) * 12"
    " + CAST(EXTRACT(MONTH FROM occurred_at AT TIME ZONE 'UTC') AS INTEGER)",
    "sqlite": "CAST(substr(occurred_at, 1, 4) AS INTEGER) * 12"
    " + CAST(substr(occurred_at, 6, 2) AS INTEGER)",
}


def rebuild(connection: sa.Connection) -> None:
    """Every row again from the events (in the caller's transaction)."""
    month = _MONTH_SQL[connection.dialect.name]
    connection.execute(text("DELETE FROM member_activity_month"))
    connection.execute(
        text(f"""
        INSERT INTO member_activity_month (member_id, month, purchases, spent)
        SELECT member_id, {month},
               SUM(CASE WHEN type = 'purchase' AND COALESCE(amount, 0) >= 0 THEN 1 ELSE 0 END),
               SUM(CASE WHEN type = 'purchase' THEN COALESCE(amount, 0) ELSE 0 END)
        FROM event WHERE type IN ('member.joined', 'purchase', 'visit')
        GROUP BY member_id, {month}""")
    )
