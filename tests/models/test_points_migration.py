"""Migration 0012 on a populated database: every balance becomes an opening ledger row and lot."""

from alembic import command
from sqlalchemy import text
from sqlmodel import col, select

from loyalflow.models.db import alembic_config, get_engine, session_scope
from loyalflow.models.tables import PointsLedger, PointsLot
from tests.models.test_db import empty_database_url  # noqa: F401  (the fixture)


def test_existing_balances_become_opening_lots(empty_database_url: str) -> None:  # noqa: F811
    config = alembic_config(empty_database_url)
    command.upgrade(config, "0007")
    balances = {"rich": 1250, "none": 0, "owes": -40}  # -40: a refund after the points were spent
    with get_engine(empty_database_url).begin() as connection:
        for member_id, points in balances.items():
            connection.execute(
                text(
                    "INSERT INTO member (id, locale, timezone, points, purchase_count, total_spent,"
                    " attributes, created_at, updated_at) VALUES (:id, 'en', 'UTC', :points, 0, 0,"
                    " '{}', :at, :at)"
                ),
                {"id": member_id, "points": points, "at": "2026-06-01 10:00:00+00:00"},
            )

    command.upgrade(config, "head")

    with session_scope(empty_database_url) as session:
        ledger = session.exec(select(PointsLedger).order_by(col(PointsLedger.member_id))).all()
        lots = session.exec(select(PointsLot)).all()
    assert [(row.member_id, row.kind, row.points, row.lots) for row in ledger] == [
        ("owes", "opening", -40, []),
        ("rich", "opening", 1250, []),
    ]
    [lot] = lots
    assert (lot.member_id, lot.original, lot.remaining, lot.expires_at) == (
        "rich",
        1250,
        1250,
        None,
    )
    assert ledger[1].lot_id == lot.id and ledger[0].lot_id is None
    assert lot.earned_at.year == 2026 and lot.earned_at.tzinfo is not None
