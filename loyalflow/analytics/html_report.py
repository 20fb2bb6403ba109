"""The self-contained HTML report: one file, readable offline, with charts (Chart.js, vendored from
npm under `static/` with its license, inlined at render time) and a table under every chart.

Jinja2 autoescapes every value; the chart data travels as JSON in a
`<script type="application/json">` block, escaped so that no value can close the script or open
markup; the page's own script reads it and draws, with no inline event handlers.
"""

import base64
import hashlib
import json
import re
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from loyalflow.analytics.html_figures import (
    cohort_rows,
    experiment_chart,
    funnel_chart,
    funnel_stages,
    rfm_grid,
    series_chart,
    tier_chart,
)
from loyalflow.analytics.journey_models import ExperimentReport, JourneyReport
from loyalflow.analytics.kpi_models import KpiReport
from loyalflow.analytics.timeseries import DailySeries

CHART_JS = "chart.umd.min.js"
_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("loyalflow.analytics", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["pct"] = _pct
    environment.filters["num"] = _num
    return environment


NO_FIGURE = "\u2013"  # an en dash: no data (a rate over zero), unlike 0


def _pct(value: float | None, digits: int = 1) -> str:
    return NO_FIGURE if value is None else f"{value * 100:.{digits}f} %"


def _num(value: Any) -> str:
    if value is None:
        return NO_FIGURE
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@lru_cache(maxsize=4)
def _asset(name: str) -> str:
    return (resources.files("loyalflow.analytics") / "static" / name).read_text(encoding="utf-8")


def inline_script(source: str) -> Markup:
    """A script's text, safe inside <script>: nothing in it can end the element early."""
    return Markup(re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE))


def json_block(data: Any) -> Markup:
    """JSON for <script type="application/json">: `<`, `>`, `&` and the JavaScript line
    separators escaped, so that a member's or a journey's text can never close the block."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    for character, escape in _JSON_ESCAPES.items():
        text = text.replace(character, escape)
    return Markup(text)


def _sha256(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


def _page(
    template: str, title: str, generated_at: datetime, data: dict[str, Any], **context: Any
) -> str:
    scripts = [inline_script(_asset(CHART_JS)), inline_script(_asset("report.js"))]
    return (
        _environment()
        .get_template(template)
        .render(
            title=title,
            generated_at=generated_at,
            data=json_block(data),
            chart_js=scripts[0],
            report_js=scripts[1],
            # The page's policy runs exactly these two scripts: nothing injected, nothing fetched.
            script_hashes=" ".join(_sha256(script) for script in scripts),
            report_css=Markup(_asset("report.css")),
            **context,
        )
    )


def program_html(
    report: KpiReport,
    series: DailySeries,
    journeys: list[JourneyReport],
    program_name: str = "Loyalty Program",
) -> str:
    """The whole program: KPIs, the daily time series, tiers, cohorts, RFM, each journey's funnel."""
    data = {
        "kind": "program",
        "series": series_chart(series),
        "tiers": tier_chart(report.tiers),
        "funnels": [funnel_chart(j) for j in journeys],
        "report": report.model_dump(mode="json"),
    }
    return _page(
        "program.html.j2",
        f"{program_name}: results",
        report.generated_at,
        data,
        report=report,
        series=series,
        journeys=[(j, funnel_stages(j.total)) for j in journeys],
        cohorts=cohort_rows(report.cohorts),
        rfm=[rfm_grid(report.rfm.end, "frequency"), rfm_grid(report.rfm.end, "monetary")],
        program_name=program_name,
    )


def journey_html(report: JourneyReport, series: DailySeries | None) -> str:
    data = {
        "kind": "journey",
        "series": series_chart(series) if series is not None else None,
        "funnels": [funnel_chart(report)],
        "report": report.model_dump(mode="json"),
    }
    return _page(
        "journey.html.j2",
        f"Journey {report.journey_id}: {report.name}",
        report.generated_at,
        data,
        report=report,
        series=series,
        journeys=[(report, funnel_stages(report.total))],
    )


def experiment_html(report: ExperimentReport) -> str:
    data = {
        "kind": "experiment",
        "experiment": experiment_chart(report),
        "report": report.model_dump(mode="json"),
    }
    return _page(
        "experiment.html.j2",
        f"Experiment {report.experiment}",
        report.generated_at,
        data,
        report=report,
    )
