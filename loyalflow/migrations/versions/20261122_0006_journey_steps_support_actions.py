"""The steps each run entered, and what support staff did (exit, retry-send), for the timeline.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journey_step",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("member_id", sa.String(128), nullable=False),
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("workflow_id", "step_id", "at"),
    )
    op.create_index("ix_journey_step_workflow_id", "journey_step", ["workflow_id"])
    op.create_index("ix_journey_step_member_id", "journey_step", ["member_id"])
    op.create_table(
        "support_action",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("member_id", sa.String(128), nullable=False),
        sa.Column("workflow_id", sa.String(255)),
        sa.Column("message_id", sa.String(64)),
        sa.Column("new_message_id", sa.String(64)),
        sa.Column("detail", sa.String(500)),
    )
    op.create_index("ix_support_action_member_id", "support_action", ["member_id"])


def downgrade() -> None:
    op.drop_index("ix_support_action_member_id", table_name="support_action")
    op.drop_table("support_action")
    op.drop_index("ix_journey_step_member_id", table_name="journey_step")
    op.drop_index("ix_journey_step_workflow_id", table_name="journey_step")
    op.drop_table("journey_step")
