"""Enrollments record the A/B variant and the goal (conversion) for support and reports.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollment") as batch:
        batch.add_column(sa.Column("variant", sa.String(64)))
        batch.add_column(sa.Column("converted_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("goal_event_id", sa.String(255)))


def downgrade() -> None:
    with op.batch_alter_table("enrollment") as batch:
        batch.drop_column("goal_event_id")
        batch.drop_column("converted_at")
        batch.drop_column("variant")
