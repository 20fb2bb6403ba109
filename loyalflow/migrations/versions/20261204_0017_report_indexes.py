"""Journey reports: a journey's entries in a period, by an index rather than all its entries.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_enrollment_journey_entered", "enrollment", ["journey_id", "entered_at"])


def downgrade() -> None:
    op.drop_index("ix_enrollment_journey_entered", table_name="enrollment")
