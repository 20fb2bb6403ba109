"""Engagement tracking: the tracked links of each message, every open and click as it arrived,
the bounce receiver's reports, and the ledger's first human open and click and bounce time.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("first_opened_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("first_clicked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("bounced_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "message_link",
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("url", sa.String(4000), nullable=False),
    )
    op.create_table(
        "engagement_hit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column(
            "member_id",
            sa.String(128),
            sa.ForeignKey("member.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("user_agent", sa.String(500), nullable=True),
        sa.Column("ip_prefix", sa.String(64), nullable=True),
        sa.Column("apple_mpp", sa.Boolean(), nullable=False),
        sa.Column("bot", sa.Boolean(), nullable=False),
        sa.Column("human", sa.Boolean(), nullable=False),
        sa.Column("rule", sa.String(64), nullable=True),
    )
    op.create_index("ix_engagement_hit_member_id", "engagement_hit", ["member_id"])
    op.create_index(
        "ix_engagement_hit_message_kind", "engagement_hit", ["message_id", "kind", "at"]
    )
    op.create_table(
        "bounce_report",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=True),
        sa.Column("recipient", sa.String(320), nullable=True),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("detail", sa.String(1000), nullable=True),
        sa.Column("raw", sa.Text(), nullable=True),
    )
    op.create_index("ix_bounce_report_message_id", "bounce_report", ["message_id"])


def downgrade() -> None:
    op.drop_table("bounce_report")
    op.drop_table("engagement_hit")
    op.drop_table("message_link")
    with op.batch_alter_table("message") as batch:
        batch.drop_column("bounced_at")
        batch.drop_column("first_clicked_at")
        batch.drop_column("first_opened_at")
