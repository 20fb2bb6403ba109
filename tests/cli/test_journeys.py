"""`loyalflow journeys list` and `loyalflow journeys show ID [--mermaid]`."""

import re

import yaml
from typer.testing import CliRunner

from loyalflow.cli.app import app
from loyalflow.cli.journeys import mermaid
from loyalflow.config import get_settings
from loyalflow.models.journey import Journey

BUILT_IN = ("first_purchase", "points_reminder", "reactivation", "tier_upgrade", "welcome")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["journeys", *args])
    return result.exit_code, result.output


def test_list_shows_the_five_built_in_journeys() -> None:
    code, output = run("list")
    assert code == 0
    ids = [line.split()[0] for line in output.splitlines() if line.split()[:1]]
    assert [i for i in ids if i in BUILT_IN] == list(BUILT_IN)


def test_show_prints_the_steps_as_a_tree_with_the_split_branches() -> None:
    code, output = run("show", "reactivation")
    assert code == 0
    assert "Win back inactive members (reactivation)" in output
    for line in (
        "channel_test: split test reactivation.channel",
        "email 45% -> nudge_email",
        "sms 45% -> nudge_sms",
        "holdout 10% -> end",
        "wait_for_purchase: wait for purchase, at most 14d",
        "purchase -> welcome_back",
        "timeout -> bonus_points",
        "exits on purchase",
    ):
        assert line in output
    assert output.index("email 45%") < output.index("nudge_email: send")


def test_mermaid_is_a_flowchart_with_an_edge_per_exit() -> None:
    code, output = run("show", "reactivation", "--mermaid")
    assert code == 0
    assert output.startswith("flowchart TD\n")
    path = get_settings().journeys_dir / "reactivation.yaml"

    journey = Journey.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert output.rstrip("\n") == mermaid(journey)
    for step in journey.steps:
        edges = re.findall(rf"^  {step.id}( -- \"[^\"]*\")? --> (\w+)$", output, re.MULTILINE)
        assert [target for _, target in edges] == [
            target or "finish" for _, target in journey.exits(step)
        ]
    assert '  channel_test -- "holdout 10%" --> finish' in output.splitlines()
    assert "  start([" in output and "--> channel_test" in output


def test_show_of_an_unknown_journey_fails_clearly() -> None:
    code, output = run("show", "reactivaton")
    assert code == 1
    assert output == "no journey 'reactivaton'; `loyalflow journeys list` shows them\n"
