"""A partial index on the runs in progress per journey (`exited_at IS NULL`), for the console's
journeys list: one grouped count read from the index, however many finished runs there are.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNING = sa.text("exited_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_enrollment_running_journey",
        "enrollment",
        ["journey_id"],
        postgresql_where=RUNNING,
        sqlite_where=RUNNING,
    )


def downgrade() -> None:
    op.drop_index("ix_enrollment_running_journey", table_name="enrollment")
