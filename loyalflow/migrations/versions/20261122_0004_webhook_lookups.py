"""Indexes for webhook lookups: members by phone (inbound SMS), messages by provider id.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_member_phone", "member", ["phone"])
    op.create_index("ix_message_provider_id", "message", ["provider_id"])


def downgrade() -> None:
    op.drop_index("ix_message_provider_id", table_name="message")
    op.drop_index("ix_member_phone", table_name="member")
