"""Keeps `member_activity_month` (models/activity_tables.py) as events are applied: each
activity adds to its (member, month) row, in the ingest transaction.

A batch's additions wait in the session and go in one upsert before it commits (one statement per
batch, not per event), like the points ledger's rows. Rows of one member are only written with
that member's row locked, so concurrent batches never add to the same row at once.

`cohort_activity` counts those rows by (the member's join month, month): a row new in this batch
adds one to its member's cohort, and a member whose join month a late `member.joined` moved
carries the months they already had from the old cohort to the new. Its rows are shared by many
members: they are written last, in key order (concurrent batches wait for each other in one
order, never in a cycle), just before the commit.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from loyalflow.members.commit_batches import batch_until_commit
from loyalflow.models.activity_tables import CohortActivity, MemberActivityMonth
from loyalflow.models.db import upsert_into
from loyalflow.models.rollup_tables import table_of
from loyalflow.models.tables import Member

_PENDING = "activity_months.pending"
activity_month = table_of(MemberActivityMonth)
cohort_activity = table_of(CohortActivity)


@dataclass
class _Month:
    purchases: int = 0
    spent: Decimal = Decimal(0)


class _Months(dict[tuple[str, int], _Month]):
    """A batch's additions by (member, month); `moves`: members whose join month moved, with
    (old, new) cohort."""

    def __init__(self) -> None:
        super().__init__()
        self.moves: dict[str, tuple[int, int]] = {}


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


def note_cohort_move(session: Session, member_id: str, old: datetime, new: datetime) -> None:
    """The member's join month becomes `new`'s (it was `old`'s: their creation, before their
    `member.joined` arrived)."""
    if month_of(old) == month_of(new):
        return
    pending = batch_until_commit(session, _PENDING, _Months, _write_pending)
    first_old = pending.moves.get(member_id, (month_of(old), 0))[0]
    pending.moves[member_id] = (first_old, month_of(new))


def _insert_for(session: OrmSession, table: sa.Table) -> Any:
    return upsert_into(session.get_bind().dialect.name, table)


def _write_pending(session: OrmSession, pending: _Months) -> None:
    if not pending and not pending.moves:
        return
    # Months the moved members had before this batch leave the old cohort for the new one.
    counts: Counter[tuple[int, int]] = Counter()
    if pending.moves:
        had = session.execute(
            sa.select(activity_month.c.member_id, activity_month.c.month).where(
                activity_month.c.member_id.in_(sorted(pending.moves))
            )
        )
        for member_id, month in had:
            old, new = pending.moves[member_id]
            counts[(old, month)] -= 1
            counts[(new, month)] += 1
    rows = [
        {"member_id": member_id, "month": month, "purchases": row.purchases, "spent": row.spent}
        for (member_id, month), row in sorted(pending.items())
    ]
    if rows:
        insert = _insert_for(session, activity_month)
        fresh = {
            (member_id, month)
            for member_id, month in session.execute(
                insert.on_conflict_do_nothing(
                    index_elements=[activity_month.c.member_id, activity_month.c.month]
                ).returning(activity_month.c.member_id, activity_month.c.month),
                rows,
            )
        }
        older = [row for row in rows if (row["member_id"], row["month"]) not in fresh]
        if older:
            session.execute(
                insert.on_conflict_do_update(
                    index_elements=[activity_month.c.member_id, activity_month.c.month],
                    set_={
                        "purchases": activity_month.c.purchases + insert.excluded.purchases,
                        "spent": activity_month.c.spent + insert.excluded.spent,
                    },
                ),
                older,
            )
        counts.update(_cohorts_of(session, fresh))
    _add_to_cohorts(session, counts)


def _cohorts_of(session: OrmSession, fresh: set[tuple[str, int]]) -> Counter[tuple[int, int]]:
    """(cohort, month) of each new row, from its member's join (else creation) time. The batch
    holds its members in the session (a `member.joined` of this batch already set the time):
    no query, as a rule."""
    joined: dict[str, datetime] = {}
    for member_id in {member_id for member_id, _ in fresh}:
        row = session.get(Member, member_id)
        assert row is not None  # its activity row's foreign key holds
        joined[member_id] = row.joined_at or row.created_at
    return Counter((month_of(joined[member_id]), month) for member_id, month in fresh)


def _add_to_cohorts(session: OrmSession, counts: Counter[tuple[int, int]]) -> None:
    rows = [
        {"cohort": cohort, "month": month, "members": members}
        for (cohort, month), members in sorted(counts.items())
        if members
    ]
    if not rows:
        return
    insert = _insert_for(session, cohort_activity)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[cohort_activity.c.cohort, cohort_activity.c.month],
            set_={"members": cohort_activity.c.members + insert.excluded.members},
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
    """Every row again from the events, and the cohorts' counts from them (in the caller's
    transaction)."""
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
    joined = _MONTH_SQL[connection.dialect.name].replace(
        "occurred_at", "COALESCE(m.joined_at, m.created_at)"
    )
    connection.execute(text("DELETE FROM cohort_activity"))
    connection.execute(
        text(f"""
        INSERT INTO cohort_activity (cohort, month, members)
        SELECT {joined}, a.month, COUNT(*)
        FROM member_activity_month AS a JOIN member AS m ON m.id = a.member_id
        GROUP BY {joined}, a.month""")
    )
