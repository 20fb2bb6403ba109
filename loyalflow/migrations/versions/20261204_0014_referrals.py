"""Referrals: who referred a member, and when the referral converted (first purchase).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "referral",
        sa.Column("member_id", sa.String(128), sa.ForeignKey("member.id"), primary_key=True),
        sa.Column("referrer_id", sa.String(128), sa.ForeignKey("member.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("converted_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_referral_referrer_time", "referral", ["referrer_id", "at"])


def downgrade() -> None:
    op.drop_table("referral")
