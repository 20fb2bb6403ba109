"""Journey reports' indexes:
- `ix_journey_step_journey_at (journey_id, at, workflow_id, step_id)`: a journey's step rows
  since the period's start, read as one range of the index (steps reached, the experiment's
  entries) instead of one probe per entry;
- on PostgreSQL, a run's messages by workflow id carry the columns the funnel reads
  (`ix_message_workflow_id INCLUDE (step_id, channel, status, sent_at, first_opened_at,
  first_clicked_at, reason)`), so the probe per entry into the message ledger reads the index
  alone. SQLite has no INCLUDE: its index stays as it is.

Builds one index over the step rows and rebuilds one over the messages (seconds to a minute
each at 1,000,000 members).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INCLUDED = [
    "step_id",
    "channel",
    "status",
    "sent_at",
    "first_opened_at",
    "first_clicked_at",
    "reason",
]


STEP_COLUMNS = ["journey_id", "at", "workflow_id", "step_id"]


def upgrade() -> None:
    op.create_index("ix_journey_step_journey_at", "journey_step", STEP_COLUMNS)
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_message_workflow_id", table_name="message")
    op.create_index(
        "ix_message_workflow_id", "message", ["workflow_id"], postgresql_include=INCLUDED
    )


def downgrade() -> None:
    op.drop_index("ix_journey_step_journey_at", table_name="journey_step")
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_message_workflow_id", table_name="message")
    op.create_index("ix_message_workflow_id", "message", ["workflow_id"])
