"""`loyalflow report journey|experiment`: the same figures as the API, as JSON, CSV or tables,
to stdout or a file; unknown ids and bad periods are refused with a message."""

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyalflow.cli.app import app
from loyalflow.config import Settings, get_settings
from tests.analytics.funnel_program import DAY, T0, published

PERIOD = ["--from", (T0 - DAY).isoformat(), "--to", (T0 + DAY).isoformat()]


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("LOYALFLOW_HOME", str(settings.home))
    monkeypatch.setenv("LOYALFLOW_DATABASE_URL", settings.effective_database_url)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def test_journey_report_as_json_csv_and_table(cli_env: Settings, tmp_path: Path) -> None:
    program = published(cli_env)
    journey = program.journey.id
    runner = CliRunner()

    as_json = runner.invoke(app, ["report", "journey", journey, *PERIOD, "--format", "json"])
    out = tmp_path / "funnel.csv"
    as_csv = runner.invoke(
        app, ["report", "journey", journey, *PERIOD, "--format", "csv", "--out", str(out)]
    )
    as_table = runner.invoke(app, ["report", "journey", journey, *PERIOD])

    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["total"]["converted"] == 3
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    sent = {
        (r["step"], r["channel"]): r["value"]
        for r in rows
        if r["section"] == "send" and r["version"] == "all" and r["measure"] == "sent"
    }
    assert sent == {("email_1", "email"): "3", ("reminder", "sms"): "0", ("reminder", "email"): "1"}
    assert as_table.exit_code == 0, as_table.output
    assert "email_1" in as_table.stdout and "62.50" in as_table.stdout


def test_experiment_report_as_csv_and_table(cli_env: Settings) -> None:
    program = published(cli_env)
    experiment = f"{program.journey.id}.split"
    runner = CliRunner()

    as_csv = runner.invoke(app, ["report", "experiment", experiment, *PERIOD, "--format", "csv"])
    as_table = runner.invoke(app, ["report", "experiment", experiment, *PERIOD])

    assert as_csv.exit_code == 0, as_csv.output
    arms = {r["variant"]: r["entered"] for r in csv.DictReader(io.StringIO(as_csv.stdout))}
    assert arms == {"a": "3", "b": "1", "holdout": "1"}
    assert as_table.exit_code == 0, as_table.output
    assert "Not enough data yet" in as_table.stdout


def test_unknown_ids_and_bad_periods_are_refused(cli_env: Settings) -> None:
    runner = CliRunner()

    unknown = runner.invoke(app, ["report", "journey", "no_such_journey"])
    backwards = runner.invoke(
        app, ["report", "experiment", "welcome", "--from", "2026-03-02", "--to", "2026-03-01"]
    )

    assert unknown.exit_code == 1
    assert "no journey 'no_such_journey'" in unknown.output
    assert backwards.exit_code == 2
    assert "from must be before to" in backwards.output
