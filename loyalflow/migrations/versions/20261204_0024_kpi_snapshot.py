"""`kpi_snapshot`: stored program KPI reports per period and grouping, which the console's
dashboard reads instead of computing the report while the page waits (models/snapshot_tables.py).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kpi_snapshot",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("grouping", sa.String(16), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.UniqueConstraint(
            "period_start", "period_end", "grouping", name="uq_kpi_snapshot_period"
        ),
    )


def downgrade() -> None:
    op.drop_table("kpi_snapshot")
