"""Schema and storage: migrations match the models, timestamps stay aware UTC, startup checks."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import StatementError
from sqlmodel import SQLModel, col, select

from loyalflow.models.db import (
    SchemaNotCurrent,
    alembic_config,
    assert_schema_current,
    get_engine,
    session_scope,
    upgrade_database,
)
from loyalflow.models.tables import Member
from tests.conftest import unique_member_id

TABLES = {
    "member",
    "member_activity_month",
    "cohort_activity",
    "purchase_previous",
    "anonymous_alias",
    "anonymous_event",
    "event",
    "consent",
    "suppression",
    "experiment_assignment",
    "journey_version",
    "enrollment",
    "message",
    "journey_step",
    "support_action",
    "message_link",
    "engagement_hit",
    "bounce_report",
    "points_lot",
    "points_ledger",
    "redemption",
    "reward_stock",
    "referral",
    "console_user",
    "console_session",
    "login_attempt",
    "audit_log",
    "daily_rollup",
    "rollup_day",
    "journey_pause",
    "kpi_snapshot",
}


@pytest.fixture
def empty_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database of the same backend as `database_url`, with nothing in it."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    schema = f"loyalflow_empty_{uuid.uuid4().hex[:8]}"
    base = url.difference_update_query(["options"])
    if base.password is None:  # ignored by trust auth; lets tests check it is never shown
        base = base.set(password="never-shown")
    admin = get_engine(base.render_as_string(hide_password=False))
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    scoped = base.update_query_dict({"options": f"-csearch_path={schema}"})
    scoped_url = scoped.render_as_string(hide_password=False)
    try:
        yield scoped_url
    finally:
        get_engine(scoped_url).dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def add(url: str, *rows: SQLModel) -> None:
    with session_scope(url) as session:
        session.add_all(rows)


def table_names(url: str) -> set[str]:
    with get_engine(url).connect() as connection:
        return set(inspect(connection).get_table_names()) - {"alembic_version"}


def test_migrations_produce_exactly_the_model_schema(database_url: str) -> None:
    assert set(SQLModel.metadata.tables) == TABLES
    with get_engine(database_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)

    assert differences == []


def test_downgrade_to_base_then_upgrade_to_head(empty_database_url: str) -> None:
    config = alembic_config(empty_database_url)
    command.upgrade(config, "head")
    assert table_names(empty_database_url) == TABLES

    command.downgrade(config, "base")
    assert table_names(empty_database_url) == set()
    with pytest.raises(SchemaNotCurrent):
        assert_schema_current(empty_database_url)

    command.upgrade(config, "head")
    assert table_names(empty_database_url) == TABLES
    assert_schema_current(empty_database_url)


def test_upgrade_at_head_is_a_no_op(database_url: str) -> None:
    member_id = unique_member_id()
    add(database_url, Member(id=member_id))

    upgrade_database(database_url)

    assert_schema_current(database_url)
    with session_scope(database_url) as session:
        assert session.get(Member, member_id) is not None


def test_schema_check_on_an_empty_database_says_to_migrate(empty_database_url: str) -> None:
    with pytest.raises(SchemaNotCurrent, match="run `loyalflow migrate`") as raised:
        assert_schema_current(empty_database_url)

    assert "revision none" in str(raised.value)
    password = make_url(empty_database_url).password
    if password:
        assert str(password) not in str(raised.value)


def test_aware_datetimes_round_trip_as_utc(database_url: str) -> None:
    member_id = unique_member_id()
    paris = datetime(2026, 3, 1, 10, 30, 15, 123456, tzinfo=ZoneInfo("Europe/Paris"))
    add(database_url, Member(id=member_id, joined_at=paris))

    with session_scope(database_url) as session:
        member = session.get(Member, member_id)
        assert member is not None
        joined_at = member.joined_at

    assert joined_at == paris
    assert joined_at is not None
    assert joined_at.tzinfo == UTC
    assert (joined_at.hour, joined_at.microsecond) == (9, 123456)


def test_timestamps_compare_as_instants_whatever_their_offset(database_url: str) -> None:
    # 10:00+05:00 is earlier than 06:00Z although "10:00" > "06:00" as local wall time.
    early, late = unique_member_id(), unique_member_id()
    add(
        database_url,
        Member(id=early, last_activity_at=datetime.fromisoformat("2026-03-01T10:00+05:00")),
        Member(id=late, last_activity_at=datetime.fromisoformat("2026-03-01T06:00+00:00")),
    )

    cutoff = datetime.fromisoformat("2026-03-01T05:30+00:00")
    with session_scope(database_url) as session:
        found = session.exec(
            select(Member.id).where(
                col(Member.id).in_([early, late]), col(Member.last_activity_at) < cutoff
            )
        ).all()

    assert found == [early]


def test_naive_datetimes_are_refused(database_url: str) -> None:
    member_id = unique_member_id()

    with pytest.raises(StatementError, match="naive datetime"):
        add(database_url, Member(id=member_id, joined_at=datetime(2026, 3, 1, 10, 30)))

    with session_scope(database_url) as session:
        assert session.get(Member, member_id) is None
