"""The daily rollup (one row per day and journey, step, channel, variant), the days rolled up, and
the time indexes a day's rollup reads through (events and ledger rows by time: 0015's indexes).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTS = (
    "sends",
    "delivered",
    "bounces",
    "opens",
    "clicks",
    "unsubscribes",
    "entered",
    "conversions",
    "purchases",
)
POINTS = ("new_members", "points_issued", "points_redeemed", "points_expired")
INDEXES = (
    ("ix_message_sent_at", "message", ["sent_at"]),
    ("ix_message_first_opened_at", "message", ["first_opened_at"]),
    ("ix_message_first_clicked_at", "message", ["first_clicked_at"]),
    ("ix_enrollment_entered_at", "enrollment", ["entered_at"]),
    ("ix_enrollment_converted_at", "enrollment", ["converted_at"]),
)


def upgrade() -> None:
    op.create_table(
        "daily_rollup",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("journey_id", sa.String(64), primary_key=True),
        sa.Column("step_id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("variant", sa.String(64), primary_key=True),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in COUNTS),
        sa.Column("revenue", sa.Numeric(20, 2), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in POINTS),
    )
    op.create_table(
        "rollup_day",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table)
    op.drop_table("rollup_day")
    op.drop_table("daily_rollup")
