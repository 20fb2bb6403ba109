"""Migration 0012 on a populated database: every balance becomes an opening ledger row and lot,
which then follows the configured expiry policy."""

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text
from sqlmodel import col, select

from loyalflow.members.points_sweep import expire_page
from loyalflow.models.db import alembic_config, get_engine, session_scope
from loyalflow.models.points_tables import PointsLedger, PointsLot
from loyalflow.models.tables import Member
from loyalflow.rules.points_expiry import PointsExpiry
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


def populated_at_0007(url: str, members: dict[str, tuple[int, str | None]]) -> None:
    """Members with a balance (and a last activity) before the points ledger existed."""
    command.upgrade(alembic_config(url), "0007")
    with get_engine(url).begin() as connection:
        for member_id, (points, active_at) in members.items():
            connection.execute(
                text(
                    "INSERT INTO member (id, locale, timezone, points, purchase_count, total_spent,"
                    " attributes, last_activity_at, created_at, updated_at) VALUES (:id, 'en',"
                    " 'UTC', :points, 0, 0, '{}', :active, :at, :at)"
                ),
                {"id": member_id, "points": points, "active": active_at, "at": MIGRATED},
            )
    command.upgrade(alembic_config(url), "head")


def sweep(url: str, as_of: datetime, expiry: PointsExpiry) -> list[tuple[str, str, object]]:
    """One run of the daily sweep's pages; the events it derived (type, member, amount)."""
    events, cursor = [], None
    while True:
        page = expire_page(url, as_of, [30, 7], cursor, 2, expiry=expiry)
        events += [(e.type, e.member_id, e.properties["amount"]) for e in page.events]
        cursor = page.next_member_id
        if cursor is None:
            return events


def balances(url: str) -> dict[str, int]:
    with session_scope(url) as session:
        return dict(session.exec(select(Member.id, Member.points)).all())


MIGRATED = "2026-06-01 10:00:00+00:00"


def test_opening_lots_expire_per_lot_months_after_the_policy_first_applies(
    empty_database_url: str,  # noqa: F811
) -> None:
    url = empty_database_url
    populated_at_0007(url, {"ann": (1250, None), "bob": (300, None), "cat": (0, None)})
    policy = PointsExpiry(policy="per_lot", months=12)
    first_sweep = datetime(2026, 6, 2, 3, 30, tzinfo=UTC)

    assert sweep(url, first_sweep, policy) == []  # dated, nothing due yet
    with session_scope(url) as session:
        dates = set(session.exec(select(PointsLot.expires_at)).all())
    assert {d.astimezone(UTC) for d in dates if d is not None} == {
        datetime(2027, 6, 2, 3, 30, tzinfo=UTC)
    }
    assert None not in dates

    reminded = sweep(url, datetime(2027, 5, 10, 3, 30, tzinfo=UTC), policy)
    assert sorted(reminded) == [("points.expiring", "ann", 1250), ("points.expiring", "bob", 300)]
    expired = sweep(url, datetime(2027, 6, 2, 3, 30, tzinfo=UTC), policy)
    assert sorted(expired) == [("points.expired", "ann", 1250), ("points.expired", "bob", 300)]
    assert balances(url) == {"ann": 0, "bob": 0, "cat": 0}
    assert sweep(url, datetime(2027, 6, 3, 3, 30, tzinfo=UTC), policy) == []  # once


def test_opening_lots_follow_the_members_activity_under_rolling(
    empty_database_url: str,  # noqa: F811
) -> None:
    url = empty_database_url
    populated_at_0007(
        url,
        {
            "idle": (400, "2025-01-15 12:00:00+00:00"),  # 17 months without activity
            "busy": (700, "2026-05-20 12:00:00+00:00"),
        },
    )
    policy = PointsExpiry(policy="rolling", months=6)

    events = sweep(url, datetime(2026, 6, 2, 3, 30, tzinfo=UTC), policy)

    assert events == [("points.expired", "idle", 400)]
    assert balances(url) == {"idle": 0, "busy": 700}
    with session_scope(url) as session:
        lot = session.exec(select(PointsLot).where(PointsLot.member_id == "busy")).one()
    assert lot.expires_at is not None
    assert lot.expires_at.astimezone(UTC) == datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_opening_lots_stay_undated_while_points_never_expire(
    empty_database_url: str,  # noqa: F811
) -> None:
    url = empty_database_url
    populated_at_0007(url, {"ann": (1250, None)})
    assert sweep(url, datetime(2030, 1, 1, tzinfo=UTC), PointsExpiry()) == []
    with session_scope(url) as session:
        assert session.exec(select(PointsLot.expires_at)).all() == [None]
