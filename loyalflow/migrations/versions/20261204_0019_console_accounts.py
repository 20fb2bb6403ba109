"""The console: users, sessions, login throttling, the audit log; indexes for its look-ups
(members by email, the message log newest first).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_user",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(48), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("locale", sa.String(8)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "console_session",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("console_user.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_session_user_id", "console_session", ["user_id"])
    op.create_index("ix_console_session_expires_at", "console_session", ["expires_at"])
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(48), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_attempt_name_at", "login_attempt", ["name", "at"])
    op.create_index("ix_login_attempt_ip_at", "login_attempt", ["ip", "at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("target", sa.String(255)),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("ip", sa.String(64)),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_target", "audit_log", ["target", "at"])
    op.create_index("ix_member_email", "member", ["email"])
    op.create_index("ix_message_created", "message", ["created_at", "message_id"])
    op.create_index(
        "ix_message_journey_created", "message", ["journey_id", "created_at", "message_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_message_journey_created", "message")
    op.drop_index("ix_message_created", "message")
    op.drop_index("ix_member_email", "member")
    op.drop_table("audit_log")
    op.drop_table("login_attempt")
    op.drop_table("console_session")
    op.drop_table("console_user")
