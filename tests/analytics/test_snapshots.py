"""KPI snapshots on SQLite and PostgreSQL: a stored report reads back exactly as `kpi_report`
computed it, one row per period and grouping (a new computation replaces the old), and a
snapshot is fresh while its period was over when it was computed, or for an hour otherwise."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from loyalflow.analytics.kpis import kpi_report
from loyalflow.analytics.snapshots import (
    FRESH_FOR,
    PRESET_DAYS,
    Snapshot,
    compute_snapshot,
    day_period,
    preset_period,
    refresh_presets,
    snapshots,
    stored_snapshot,
)
from loyalflow.models.db import read_scope
from tests.analytics.kpi_program import END, START, program_rules

JUNE = day_period(START.date(), (END - timedelta(days=1)).date())


def snapshot_rows(url: str) -> int:
    with read_scope(url) as session:
        return int(session.execute(select(func.count()).select_from(snapshots)).scalar_one())


def test_a_day_period_is_what_the_report_api_reads_from_dates() -> None:
    assert JUNE.start == START and JUNE.end == END
    week = preset_period(7, date(2026, 7, 8))
    assert (week.start, week.end) == (
        datetime(2026, 7, 1, tzinfo=UTC),
        datetime(2026, 7, 8, tzinfo=UTC),
    )


def test_a_stored_snapshot_is_the_computed_report(program: str) -> None:
    rules = program_rules()
    assert stored_snapshot(program, JUNE, "tier") is None
    stored = compute_snapshot(program, rules, JUNE, "tier")
    read = stored_snapshot(program, JUNE, "tier")
    assert read is not None
    assert read.report == stored.report
    assert read.computed_at == stored.report.generated_at
    fresh = kpi_report(program, rules, JUNE, "tier")
    assert read.report.model_dump(exclude={"generated_at"}) == fresh.model_dump(
        exclude={"generated_at"}
    )
    assert read.report.groups  # per tier, as asked
    assert stored_snapshot(program, JUNE, None) is None  # another grouping, another snapshot


def test_computing_again_replaces_the_periods_snapshot(program: str) -> None:
    rules = program_rules()
    first = compute_snapshot(program, rules, JUNE, "locale")
    rows = snapshot_rows(program)
    second = compute_snapshot(program, rules, JUNE, "locale")
    assert snapshot_rows(program) == rows
    read = stored_snapshot(program, JUNE, "locale")
    assert read is not None and read.computed_at == second.computed_at > first.computed_at


def test_the_rollup_run_stores_every_preset(program: str) -> None:
    today = END.date()
    stored = refresh_presets(program, program_rules(), today)
    assert [s.report.period for s in stored] == [preset_period(d, today) for d in PRESET_DAYS]
    for days in PRESET_DAYS:
        read = stored_snapshot(program, preset_period(days, today), None)
        assert read is not None and read.report.by is None
    june = stored_snapshot(program, preset_period(30, today), None)
    assert june is not None and june.report.overall.members.total > 0


def test_a_snapshot_is_fresh_once_its_period_is_over_or_for_an_hour(program: str) -> None:
    report = compute_snapshot(program, program_rules(), JUNE).report
    after_the_period = Snapshot(report, END + timedelta(minutes=1))
    assert after_the_period.fresh(now=END + timedelta(days=400))
    during = Snapshot(report, END - timedelta(hours=2))
    assert during.fresh(now=during.computed_at + FRESH_FOR - timedelta(seconds=1))
    assert not during.fresh(now=during.computed_at + FRESH_FOR)
