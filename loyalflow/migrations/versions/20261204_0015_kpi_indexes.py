"""What the KPI report reads by: `event.amount`, a purchase's amount computed by the database
(models/purchase_amount.py), and indexes covering a type's events over a period (purchases with
their amounts, tier changes, activity for the cohort table) and ledger rows over a period.

On PostgreSQL the stored column rewrites the event table once (minutes for tens of millions of
events, with the table locked): run it in a quiet hour.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from loyalflow.models.purchase_amount import purchase_amount

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    # SQLite adds only virtual generated columns to an existing table; PostgreSQL 15 has only stored.
    computed = sa.Computed(purchase_amount(), persisted=True if postgresql else None)
    op.add_column("event", sa.Column("amount", sa.Numeric(), computed, nullable=True))
    op.create_index(
        "ix_event_type_time_member", "event", ["type", "occurred_at", "member_id", "amount"]
    )
    op.create_index("ix_points_ledger_time", "points_ledger", ["at", "kind", "points", "member_id"])


def downgrade() -> None:
    op.drop_index("ix_points_ledger_time", table_name="points_ledger")
    op.drop_index("ix_event_type_time_member", table_name="event")
    op.drop_column("event", "amount")
