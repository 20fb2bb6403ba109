"""Indexes the KPI report reads by: events of a type over a time range (purchases, tier changes
and activity in a period, with the member for the cohort table) and ledger rows by time.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_event_type_time_member", "event", ["type", "occurred_at", "member_id"])
    op.create_index("ix_points_ledger_time", "points_ledger", ["at"])


def downgrade() -> None:
    op.drop_index("ix_points_ledger_time", table_name="points_ledger")
    op.drop_index("ix_event_type_time_member", table_name="event")
