"""A member's events by type and time carry the purchase amount (`ix_event_member_type_time`), so
the journey report's conversions and attributed revenue read the index alone, never the rows.

Rebuilds one index over the event table (a few minutes for tens of millions of events).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_event_member_type_time", table_name="event")
    op.create_index(
        "ix_event_member_type_time", "event", ["member_id", "type", "occurred_at", "amount"]
    )


def downgrade() -> None:
    op.drop_index("ix_event_member_type_time", table_name="event")
    op.create_index("ix_event_member_type_time", "event", ["member_id", "type", "occurred_at"])
