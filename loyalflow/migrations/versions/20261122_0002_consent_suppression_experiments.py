"""Consent, suppression, experiment assignments; derived-event causes; the tier-rule index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent",
        sa.Column("member_id", sa.String(128), sa.ForeignKey("member.id"), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("topic", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(64)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "suppression",
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "experiment_assignment",
        sa.Column("experiment", sa.String(128), primary_key=True),
        sa.Column("member_id", sa.String(128), sa.ForeignKey("member.id"), primary_key=True),
        sa.Column("variant", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("event") as batch:
        batch.add_column(sa.Column("caused_by", sa.String(255)))
    op.create_index("ix_event_member_type_time", "event", ["member_id", "type", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_event_member_type_time", table_name="event")
    with op.batch_alter_table("event") as batch:
        batch.drop_column("caused_by")
    op.drop_table("experiment_assignment")
    op.drop_table("suppression")
    op.drop_table("consent")
