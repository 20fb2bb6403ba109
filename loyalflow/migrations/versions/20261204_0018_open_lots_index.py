"""Points lots: one partial index over the open lots (`remaining > 0`) by member and expiry.

It replaces the two indexes over every lot ever earned: the expiry sweep, the lot consumption of
a redemption and the member summary only ever read open lots, so spent and expired lots (most of
a ledger after a few years) stop weighing on them, and an earning writes one index less.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("remaining > 0")


def upgrade() -> None:
    op.create_index(
        "ix_points_lot_open",
        "points_lot",
        ["member_id", "expires_at"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    op.drop_index("ix_points_lot_member_expiry", table_name="points_lot")
    op.drop_index("ix_points_lot_expiry", table_name="points_lot")


def downgrade() -> None:
    op.create_index("ix_points_lot_expiry", "points_lot", ["expires_at"])
    op.create_index("ix_points_lot_member_expiry", "points_lot", ["member_id", "expires_at"])
    op.drop_index("ix_points_lot_open", table_name="points_lot")
