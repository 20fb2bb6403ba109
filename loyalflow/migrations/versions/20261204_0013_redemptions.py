"""Redemptions of rewards (idempotent by the client's id) and the stock they take.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "redemption",
        sa.Column("member_id", sa.String(128), sa.ForeignKey("member.id"), primary_key=True),
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("reward_id", sa.String(64), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "reward_stock",
        sa.Column("reward_id", sa.String(64), primary_key=True),
        sa.Column("taken", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reward_stock")
    op.drop_table("redemption")
