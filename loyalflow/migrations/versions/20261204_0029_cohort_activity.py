"""`cohort_activity`: members of each join-month cohort with activity in each month, counted from
`member_activity_month` (models/activity_tables.py), so the KPI report's cohort table reads a
few hundred rows instead of every cohort member's months. Filled here by one GROUP BY over the
activity months (seconds at 7 million rows).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# year * 12 + month of the member's join (else creation) time, in UTC.
JOIN_MONTH = {
    "postgresql": "CAST(EXTRACT(YEAR FROM COALESCE(m.joined_at, m.created_at) AT TIME ZONE 'UTC')"
    " AS INTEGER) * 12 + CAST(EXTRACT(MONTH FROM COALESCE(m.joined_at, m.created_at)"
    " AT TIME ZONE 'UTC') AS INTEGER)",
    "sqlite": "CAST(substr(COALESCE(m.joined_at, m.created_at), 1, 4) AS INTEGER) * 12"
    " + CAST(substr(COALESCE(m.joined_at, m.created_at), 6, 2) AS INTEGER)",
}


def upgrade() -> None:
    op.create_table(
        "cohort_activity",
        sa.Column("cohort", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("month", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("members", sa.Integer(), nullable=False),
    )
    joined = JOIN_MONTH[op.get_bind().dialect.name]
    op.execute(f"""
        INSERT INTO cohort_activity (cohort, month, members)
        SELECT {joined}, a.month, COUNT(*)
        FROM member_activity_month AS a JOIN member AS m ON m.id = a.member_id
        GROUP BY {joined}, a.month""")


def downgrade() -> None:
    op.drop_table("cohort_activity")
