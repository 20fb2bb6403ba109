"""`loyalflow report rollup`: a hand backfill of days, with what it did on stderr; bad days are
refused naming the option."""

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from loyalflow.cli.app import app
from loyalflow.config import Settings, get_settings
from loyalflow.models.db import session_scope
from loyalflow.models.rollup_tables import DailyRollup, RollupDay
from loyalflow.models.tables import Event, Member

FIRST = date(2002, 5, 4)  # a quiet corner of time no other test writes to


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("LOYALFLOW_HOME", str(settings.home))
    monkeypatch.setenv("LOYALFLOW_DATABASE_URL", settings.effective_database_url)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def test_backfill_rolls_up_each_day_of_the_range(cli_env: Settings) -> None:
    url, member_id = cli_env.effective_database_url, f"B-{uuid.uuid4().hex[:8]}"
    noon = datetime(2002, 5, 5, 12, tzinfo=UTC)
    with session_scope(url) as session:
        session.add(Member(id=member_id, joined_at=noon))
        session.flush()
        session.add(
            Event(
                event_id=uuid.uuid4().hex,
                member_id=member_id,
                type="purchase",
                occurred_at=noon,
                properties={"amount": 42.5},
            )
        )
    last = FIRST + timedelta(days=2)

    result = CliRunner().invoke(
        app, ["report", "rollup", "--from", FIRST.isoformat(), "--to", last.isoformat()]
    )

    assert result.exit_code == 0, result.output
    assert f"rolled up 3 days, {FIRST} to {last}" in result.output
    with session_scope(url) as session:
        done = session.exec(
            select(col(RollupDay.day)).where(
                col(RollupDay.day) >= FIRST, col(RollupDay.day) <= last
            )
        ).all()
        rows = session.exec(
            select(DailyRollup).where(col(DailyRollup.day) >= FIRST, col(DailyRollup.day) <= last)
        ).all()
    assert sorted(done) == [FIRST, FIRST + timedelta(days=1), last]
    assert [(r.day, r.purchases, r.revenue, r.new_members) for r in rows] == [
        (FIRST + timedelta(days=1), 1, Decimal("42.50"), 1)
    ]


@pytest.mark.parametrize(
    ("arguments", "option"),
    [
        (["--from", "2002-13-01"], "--from"),
        (["--from", "2002-05-06", "--to", "2002-05-04"], "--from"),
        (["--to", "2999-01-01"], "--to"),
    ],
)
def test_bad_days_are_refused_naming_the_option(
    cli_env: Settings, arguments: list[str], option: str
) -> None:
    result = CliRunner().invoke(app, ["report", "rollup", *arguments])

    assert result.exit_code == 2
    assert option in result.output
