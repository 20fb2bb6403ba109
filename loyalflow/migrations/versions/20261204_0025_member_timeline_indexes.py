"""The member timeline's pages (console, newest first, keyset on time): each source indexed by
member and time, so a page reads a page of rows whatever the member's history.

On PostgreSQL with tens of millions of events, building the event and message indexes reads
each table once (a minute or two at 1,000,000 members on two cores).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_event_member_time", "event", ["member_id", "occurred_at"]),
    ("ix_points_ledger_member_time", "points_ledger", ["member_id", "at"]),
    ("ix_journey_step_member_time", "journey_step", ["member_id", "at"]),
    ("ix_support_action_member_time", "support_action", ["member_id", "at"]),
    ("ix_enrollment_member_entered", "enrollment", ["member_id", "entered_at"]),
    ("ix_enrollment_member_converted", "enrollment", ["member_id", "converted_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    op.create_index(
        "ix_message_member_time",
        "message",
        ["member_id", sa.text("coalesce(sent_at, created_at)")],
    )


def downgrade() -> None:
    op.drop_index("ix_message_member_time", table_name="message")
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
