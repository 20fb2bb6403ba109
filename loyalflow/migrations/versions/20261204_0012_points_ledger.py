"""Points ledger and lots; every existing member gets an opening row (and lot) for its balance.

Opening lots never expire: when they were earned is not known. A program that turns expiry on
can date them with an `expires_at` UPDATE of its own choosing.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "points_lot",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("member_id", sa.String(128), sa.ForeignKey("member.id"), nullable=False),
        sa.Column("earned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("original", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(255)),
    )
    op.create_index("ix_points_lot_member_expiry", "points_lot", ["member_id", "expires_at"])
    op.create_index("ix_points_lot_expiry", "points_lot", ["expires_at"])
    op.create_table(
        "points_ledger",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("member_id", sa.String(128), sa.ForeignKey("member.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(255)),
        sa.Column("promotion", sa.String(64)),
        sa.Column("lot_id", sa.Integer(), sa.ForeignKey("points_lot.id")),
        sa.Column("lots", sa.JSON(), nullable=False),
    )
    op.create_index("ix_points_ledger_member", "points_ledger", ["member_id", "id"])
    op.create_index("ix_points_ledger_event_id", "points_ledger", ["event_id"])
    # In SQL, whatever the number of members.
    op.execute(
        "INSERT INTO points_lot (member_id, earned_at, expires_at, original, remaining, event_id)"
        " SELECT id, updated_at, NULL, points, points, NULL FROM member WHERE points > 0"
    )
    empty = "'[]'::json" if op.get_bind().dialect.name == "postgresql" else "'[]'"
    op.execute(
        "INSERT INTO points_ledger (member_id, at, kind, points, event_id, promotion, lot_id, lots)"
        f" SELECT m.id, m.updated_at, 'opening', m.points, NULL, NULL, l.id, {empty}"
        " FROM member m LEFT JOIN points_lot l ON l.member_id = m.id WHERE m.points <> 0"
    )


def downgrade() -> None:
    op.drop_table("points_ledger")
    op.drop_table("points_lot")
