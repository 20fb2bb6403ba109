"""Member totals wide enough for any number the API accepts: points as BIGINT (a balance past
2**31 failed on PostgreSQL with a 500) and total spend as NUMERIC(20, 2).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("member") as batch:
        batch.alter_column(
            "points", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False
        )
        batch.alter_column(
            "total_spent",
            existing_type=sa.Numeric(14, 2),
            type_=sa.Numeric(20, 2),
            existing_nullable=False,
        )


def downgrade() -> None:
    # Fails (rather than truncating) if a stored value no longer fits the narrower columns.
    with op.batch_alter_table("member") as batch:
        batch.alter_column(
            "total_spent",
            existing_type=sa.Numeric(20, 2),
            type_=sa.Numeric(14, 2),
            existing_nullable=False,
        )
        batch.alter_column(
            "points", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False
        )
