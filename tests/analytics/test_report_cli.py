"""`loyalflow report kpis` on the hand-made program: the same figures as the report, as tables
readable at 80 columns, JSON and CSV; bad options named."""

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyalflow.analytics.kpi_models import KpiReport, Period
from loyalflow.analytics.kpis import kpi_report
from loyalflow.cli.app import app
from loyalflow.config import get_settings
from loyalflow.rules.loyalty import rules_from
from tests.analytics.kpi_program import END, START

JUNE = ["--from", "2026-06-01", "--to", "2026-06-30"]


@pytest.fixture
def cli(program: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("LOYALFLOW_DATABASE_URL", program)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_json_is_the_report_of_the_period(cli: CliRunner, program: str) -> None:
    result = cli.invoke(app, ["report", "kpis", *JUNE, "--by", "tier", "--format", "json"])
    assert result.exit_code == 0, result.output
    printed = KpiReport.model_validate(json.loads(result.stdout))
    expected = kpi_report(
        program, rules_from(get_settings().loyalty_rules_file), Period(start=START, end=END), "tier"
    )
    assert printed.model_dump(exclude={"generated_at"}) == expected.model_dump(
        exclude={"generated_at"}
    )
    # Groups are the members' tiers now: nobody is Silver since A's voucher (see test_kpis.py).
    assert {g.key for g in printed.groups} == {"Bronze", "Gold"}


def test_csv_has_one_figure_per_line(cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "kpis.csv"
    result = cli.invoke(app, ["report", "kpis", *JUNE, "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    figures = {(r["section"], r["group"], r["name"]): r["value"] for r in rows}
    assert figures[("points", "all", "expired")] == "290"
    assert figures[("purchases", "all", "revenue")] == "2640.00"
    assert figures[("cohorts", "2025-11", "month_7")] == "1.0"
    assert figures[("tiers", "", "upgrades")] == "2"


def test_tables_fit_80_columns(cli: CliRunner) -> None:
    result = cli.invoke(app, ["report", "kpis", *JUNE, "--by", "locale"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.stdout
    for figure in ("2,640.00", "660.00", "18.9%", "2,620"):  # revenue, AOV, redemption, points
        assert figure in result.stdout


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--from", "yesterday"], "--from"),
        (["--to", "2026-06-01T00:00"], "--to"),
        (["--by", "country"], "--by"),
        (["--format", "pdf"], "--format"),
    ],
)
def test_bad_options_are_named(cli: CliRunner, options: list[str], named: str) -> None:
    result = cli.invoke(app, ["report", "kpis", *options])
    assert result.exit_code == 2
    assert named in result.output


def test_many_groups_go_to_further_tables_at_80_columns(program: str) -> None:
    from rich.console import Console

    from loyalflow.analytics.kpi_models import KpiGroup
    from loyalflow.cli.kpi_tables import print_report

    report = kpi_report(
        program, rules_from(get_settings().loyalty_rules_file), Period(start=START, end=END)
    )
    seven = [KpiGroup(key=f"locale-{n}", figures=report.overall) for n in range(7)]
    console = Console(width=80, record=True, color_system=None, file=io.StringIO())
    print_report(console, report.model_copy(update={"groups": seven}))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    for n in range(7):
        assert text.count(f"locale-{n}") == 3  # members, purchases, points
