"""`loyalflow report journey|experiment ID --format html`: the page lands in the home's output
folder (or `--out`), self-contained, with the funnel and each arm's interval in its data."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyalflow.cli.app import app
from loyalflow.config import Settings, get_settings
from tests.analytics.funnel_program import DAY, T0, published
from tests.analytics.test_html_report import assert_self_contained, data_of

PERIOD = ["--from", (T0 - DAY).isoformat(), "--to", (T0 + DAY).isoformat()]


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("LOYALFLOW_HOME", str(settings.home))
    monkeypatch.setenv("LOYALFLOW_DATABASE_URL", settings.effective_database_url)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def test_the_journey_page_goes_to_the_output_folder_by_default(cli_env: Settings) -> None:
    journey = published(cli_env).journey.id

    result = CliRunner().invoke(app, ["report", "journey", journey, *PERIOD, "--format", "html"])

    assert result.exit_code == 0, result.output
    page = cli_env.home / "output" / f"report-journey-{journey}.html"
    assert str(page) in result.output.replace("\n", "")
    html = page.read_text()
    assert_self_contained(html)
    data = data_of(html)
    # funnel_program: m1, m2, m3, m5, m6 entered in the period (m4 before); 3 converted.
    [funnel] = data["funnels"]
    assert funnel["journey"] == journey
    assert (funnel["counts"][0], funnel["counts"][-1]) == (5, 3)
    assert funnel["labels"][0] == "entered" and funnel["labels"][-1] == "converted"
    assert data["series"]["labels"][0] == (T0 - DAY).date().isoformat()


def test_the_experiment_page_carries_each_arms_interval(cli_env: Settings, tmp_path: Path) -> None:
    experiment = f"{published(cli_env).journey.id}.split"
    out = tmp_path / "experiment.html"

    result = CliRunner().invoke(
        app, ["report", "experiment", experiment, *PERIOD, "--format", "html", "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert_self_contained(html)
    chart = data_of(html)["experiment"]
    assert chart["labels"] == ["a", "b", "holdout (control)"]
    # a: 2 of 3 converted; b: 0 of 1; holdout: 1 of 1 (funnel_program's story).
    assert chart["conversion"]["rates"] == [2 / 3, 0.0, 1.0]
    for rate, (low, high) in zip(
        chart["conversion"]["rates"], chart["conversion"]["intervals"], strict=True
    ):
        assert low <= rate <= high
    assert chart["clicks"]["intervals"][2] is None  # the holdout receives nothing to click
    # Lifts against the holdout: a 2/3 - 1, b 0 - 1; the control itself has none.
    assert chart["conversion"]["lifts"][2] is None
    assert [round(v, 9) for v in chart["conversion"]["lifts"][:2]] == [round(2 / 3 - 1, 9), -1.0]
    for value, (low, high) in zip(
        chart["conversion"]["lifts"][:2], chart["conversion"]["lift_intervals"][:2], strict=True
    ):
        assert low <= value <= high
    assert "Not enough data yet" in html
