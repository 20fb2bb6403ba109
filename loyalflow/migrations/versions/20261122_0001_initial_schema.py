"""Initial schema: members, events, journey versions, enrollments, message ledger.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "member",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("email", sa.String(320)),
        sa.Column("phone", sa.String(20)),
        sa.Column("first_name", sa.String(200)),
        sa.Column("locale", sa.String(35), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("tier", sa.String(64)),
        sa.Column("points", sa.Integer(), nullable=False),
        _ts("joined_at", nullable=True),
        _ts("first_purchase_at", nullable=True),
        _ts("last_purchase_at", nullable=True),
        _ts("last_activity_at", nullable=True),
        sa.Column("purchase_count", sa.Integer(), nullable=False),
        sa.Column("total_spent", sa.Numeric(14, 2), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
    )
    op.create_index("ix_member_last_activity_at", "member", ["last_activity_at"])

    op.create_table(
        "event",
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("member_id", sa.String(128), sa.ForeignKey("member.id"), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        _ts("occurred_at", nullable=False),
        _ts("received_at", nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("routed", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_event_member_id", "event", ["member_id"])
    op.create_index("ix_event_type", "event", ["type"])
    op.create_index("ix_event_routed", "event", ["routed"])

    op.create_table(
        "journey_version",
        sa.Column("journey_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        _ts("published_at", nullable=False),
    )

    op.create_table(
        "enrollment",
        sa.Column("workflow_id", sa.String(255), primary_key=True),
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("journey_version", sa.String(64), nullable=False),
        sa.Column("member_id", sa.String(128), sa.ForeignKey("member.id"), nullable=False),
        sa.Column("entry", sa.Integer(), nullable=False),
        sa.Column("trigger_event_id", sa.String(255)),
        _ts("entered_at", nullable=False),
        sa.Column("current_step", sa.String(64)),
        _ts("exited_at", nullable=True),
        sa.Column("exit_reason", sa.String(255)),
        sa.UniqueConstraint("journey_id", "member_id", "entry"),
    )
    op.create_index("ix_enrollment_journey_id", "enrollment", ["journey_id"])
    op.create_index("ix_enrollment_member_running", "enrollment", ["member_id", "exited_at"])

    op.create_table(
        "message",
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("member_id", sa.String(128), sa.ForeignKey("member.id"), nullable=False),
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("template", sa.String(128), nullable=False),
        sa.Column("locale", sa.String(35)),
        sa.Column("variant", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500)),
        sa.Column("subject", sa.String(500)),
        sa.Column("provider_id", sa.String(255)),
        _ts("created_at", nullable=False),
        _ts("sent_at", nullable=True),
        _ts("updated_at", nullable=False),
    )
    op.create_index("ix_message_member_id", "message", ["member_id"])
    op.create_index("ix_message_journey_id", "message", ["journey_id"])
    op.create_index("ix_message_workflow_id", "message", ["workflow_id"])


def downgrade() -> None:
    op.drop_table("message")
    op.drop_table("enrollment")
    op.drop_table("journey_version")
    op.drop_table("event")
    op.drop_table("member")
