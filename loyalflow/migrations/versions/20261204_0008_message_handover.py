"""The ledger records when a message was handed to the provider, and which attempts were
interrupted while the provider may have had it (support lists them: `loyalflow runs ambiguous`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("handed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("interrupted_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_message_interrupted_at", ["interrupted_at"])


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.drop_index("ix_message_interrupted_at")
        batch.drop_column("interrupted_at")
        batch.drop_column("handed_at")
