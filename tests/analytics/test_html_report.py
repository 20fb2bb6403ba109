"""The HTML report: one self-contained file (no reference to any other host, Chart.js inlined and
allowed by hash), whose data block parses and holds the program's figures; text from the data
cannot break out of the page's markup or scripts."""

import base64
import hashlib
import html as markup
import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from loyalflow.analytics.html_report import journey_html, program_html
from loyalflow.analytics.journey_models import Funnel, JourneyReport, ReportPeriod, StepFunnel
from loyalflow.analytics.kpi_models import Period
from loyalflow.analytics.kpis import kpi_report
from loyalflow.analytics.rollup import rollup_day
from loyalflow.analytics.timeseries import daily_series
from loyalflow.cli.app import app
from loyalflow.config import get_settings
from tests.analytics.kpi_program import END, START, program_rules

DATA_BLOCK = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)
SCRIPTS = re.compile(r"<script>(.*?)</script>", re.S)
HOSTILE = '</script><script>alert("x")</script><b>&'


def external_references(html: str) -> list[str]:
    """src=, href=, url() and @import pointing at any host (http, https or scheme-relative)."""
    patterns = [
        r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""",
        r"""url\(\s*["']?\s*(?:https?:)?//""",
        r"""@import\s+["']?(?:https?:)?//""",
        r"<link\b",
    ]
    return [m.group(0) for p in patterns for m in re.finditer(p, html, re.I)]


def data_of(html: str) -> dict[str, Any]:
    [block] = DATA_BLOCK.findall(html)
    data: dict[str, Any] = json.loads(block)
    return data


def assert_self_contained(html: str) -> None:
    assert external_references(html) == []
    assert "Chart.js v4" in html  # inlined, not fetched
    # The policy allows exactly the page's inline scripts, by their hashes.
    found = re.search(r'Content-Security-Policy" content="([^"]+)"', html)
    assert found is not None
    policy = markup.unescape(found.group(1))  # as the browser reads the attribute
    assert "default-src 'none'" in policy
    scripts = SCRIPTS.findall(html)
    assert len(scripts) == 2
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert re.search(r"\son[a-z]+\s*=", html.split('id="report-data"')[0]) is None  # no handlers


@pytest.fixture(scope="module")
def rolled_up(program: str) -> str:
    """The KPI tests' hand-made program, with June rolled up."""
    day = START.date()
    while day < END.date():
        rollup_day(program, day)
        day += timedelta(days=1)
    return program


def test_the_program_report_is_self_contained_and_carries_the_figures(rolled_up: str) -> None:
    report = kpi_report(rolled_up, program_rules(), Period(start=START, end=END))
    series = daily_series(rolled_up, START.date(), END.date() - timedelta(days=1))

    html = program_html(report, series, [], "Test program")

    assert_self_contained(html)
    data = data_of(html)
    assert data["kind"] == "program"
    assert len(data["series"]["labels"]) == 30 and all(data["series"]["rolled_up"])
    # June's purchases (kpi_program): A 80, B 300 and its refund -300, E 60 and 2500.
    assert sum(Decimal(str(v)) for v in data["series"]["revenue"]) == Decimal("2640")
    # The rollup and the KPI queries, computed apart, agree.
    assert Decimal(data["report"]["overall"]["purchases"]["revenue"]) == Decimal("2640")
    assert sum(d.purchases for d in series.days) == report.overall.purchases.orders == 4
    assert dict(zip(data["tiers"]["labels"], data["tiers"]["members"], strict=True)) == {
        t.tier: t.members for t in report.tiers.distribution
    }
    assert "Retention by join-month cohort" in html and "recency \u00d7 frequency" in html


def test_report_kpis_format_html_writes_the_page_in_the_output_folder(
    rolled_up: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOYALFLOW_DATABASE_URL", rolled_up)
    monkeypatch.setenv("LOYALFLOW_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app,
            ["report", "kpis", "--from", "2026-06-01", "--to", "2026-06-30", "--format", "html"],
        )
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    [page] = (tmp_path / "home" / "output").glob("report-kpis-*.html")
    html = page.read_text()
    assert_self_contained(html)
    data = data_of(html)
    assert data["series"]["labels"][0] == "2026-06-01" and len(data["series"]["labels"]) == 30
    assert sum(Decimal(str(v)) for v in data["series"]["revenue"]) == Decimal("2640")
    assert data["report"]["period"]["start"].startswith("2026-06-01")


def _journey(name: str) -> JourneyReport:
    at = START
    funnel = Funnel(
        version=None,
        entered=10,
        in_progress=2,
        completed=8,
        exits=[],
        converted=4,
        conversion_rate=0.4,
        revenue=Decimal("99.90"),
        steps=[StepFunnel(step_id="hello", kind="send", reached=9, waiting_now=0)],
        sends=[],
    )
    return JourneyReport(
        journey_id="welcome",
        name=name,
        period=ReportPeriod(start=at, end=END),
        goal=None,
        generated_at=at,
        total=funnel,
        versions=[funnel],
    )


def test_text_from_the_data_never_escapes_its_place() -> None:
    html = journey_html(_journey(HOSTILE), None)

    assert_self_contained(html)
    assert HOSTILE not in html and "<b>&" not in html
    assert "&lt;/script&gt;&lt;script&gt;alert" in html  # the heading, escaped
    data = data_of(html)  # one data block, and it gives the text back intact
    assert data["report"]["name"] == HOSTILE
    assert data["funnels"][0]["counts"] == [10, 9, 4]  # entered, hello reached, converted


def test_the_vendored_chart_js_is_the_version_package_json_names() -> None:
    root = Path(__file__).resolve().parents[2]
    wanted = json.loads((root / "package.json").read_text())["dependencies"]["chart.js"]
    static = root / "loyalflow" / "analytics" / "static"
    assert f"Chart.js v{wanted}\n" in (static / "chart.umd.min.js").read_text()[:200]
    assert "MIT License" in (static / "chart.js-LICENSE.md").read_text()
