"""Pausing a journey's entries (table `journey_pause`), and test sends marked in the ledger
(`message.is_test`), so reports leave them out.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journey_pause",
        sa.Column("journey_id", sa.String(64), primary_key=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_by", sa.String(64), nullable=False),
    )
    with op.batch_alter_table("message") as batch:
        batch.add_column(
            sa.Column("is_test", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.drop_column("is_test")
    op.drop_table("journey_pause")
