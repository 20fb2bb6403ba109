"""At 80 columns, ids are never cut: what support copies from a table must be whole."""

import json
from datetime import UTC, datetime

from rich.console import Console
from typer.testing import CliRunner

from loyalflow.cli.app import app
from loyalflow.cli.support import runs_table
from loyalflow.support.runs import RunSummary


def test_runs_table_keeps_whole_workflow_ids_at_80_columns() -> None:
    ids = [
        "journey-reactivation-M-0000123456-1",
        "journey-first_purchase_cross_sell-member.with.a.long.id@example.com-12",
    ]
    runs = [
        RunSummary(
            workflow_id=workflow_id,
            run_id=None,
            status="running",
            journey_id="first_purchase_cross_sell",
            member_id="member.with.a.long.id@example.com",
            step="wait_for_second_purchase",
            variant="holdout",
            started_at=datetime(2026, 12, 4, 9, 30, tzinfo=UTC),
            closed_at=None,
        )
        for workflow_id in ids
    ]
    console = Console(width=80, record=True, color_system=None)

    console.print(runs_table(runs))

    text = console.export_text()
    assert "…" not in text
    for workflow_id in ids:
        assert workflow_id in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_journeys_list_has_json_and_whole_ids_at_80_columns() -> None:
    table = CliRunner().invoke(app, ["journeys", "list"], env={"COLUMNS": "80"})
    as_json = CliRunner().invoke(app, ["journeys", "list", "--json"], env={"COLUMNS": "80"})

    assert table.exit_code == 0, table.output
    journeys = json.loads(as_json.output)
    assert journeys and "…" not in table.output
    for journey in journeys:
        assert journey["id"] in table.output
