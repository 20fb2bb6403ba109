"""Segment-style API: anonymous visitors' events kept until an identify names the member, and
the aliases (anonymousId -> member) that attach them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "anonymous_alias",
        sa.Column("anonymous_id", sa.String(128), primary_key=True),
        sa.Column("member_id", sa.String(128), sa.ForeignKey("member.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_anonymous_alias_member_id", "anonymous_alias", ["member_id"])
    op.create_table(
        "anonymous_event",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("anonymous_id", sa.String(128), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
    )
    op.create_index("ix_anonymous_event_anonymous_id", "anonymous_event", ["anonymous_id"])


def downgrade() -> None:
    op.drop_index("ix_anonymous_event_anonymous_id", "anonymous_event")
    op.drop_table("anonymous_event")
    op.drop_index("ix_anonymous_alias_member_id", "anonymous_alias")
    op.drop_table("anonymous_alias")
