"""`loyalflow report ... --format html`: the self-contained HTML report, written to `--out` or,
by default, to the home's output folder (like `loyalflow preview`); its path goes to stderr."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from loyalflow.analytics.journey_models import ExperimentReport, JourneyReport
    from loyalflow.analytics.kpi_models import KpiReport
    from loyalflow.analytics.timeseries import DailySeries
    from loyalflow.config import Settings

err = Console(stderr=True)


def series_days(start: datetime | None, end: datetime | None) -> tuple[date, date]:
    """The UTC days a period [start, end) touches, at most the time series' limit, the latest."""
    from loyalflow.analytics.timeseries import MAX_DAYS

    last = (end or datetime.now(UTC)) - timedelta(microseconds=1)
    first = start or last - timedelta(days=29)
    first_day = max(first.date(), last.date() - timedelta(days=MAX_DAYS - 1))
    return first_day, last.date()


def _series(
    settings: "Settings", start: datetime | None, end: datetime | None, journey_id: str | None
) -> "DailySeries":
    from loyalflow.analytics.timeseries import daily_series

    first, last = series_days(start, end)
    return daily_series(settings.effective_database_url, first, last, journey_id=journey_id)


def render(
    settings: "Settings", report: "KpiReport | JourneyReport | ExperimentReport"
) -> tuple[str, str]:
    """The page, and the file name it gets by default."""
    from loyalflow.analytics.html_report import experiment_html, journey_html, program_html
    from loyalflow.analytics.journey_models import ExperimentReport, JourneyReport, ReportPeriod
    from loyalflow.analytics.journey_report import journey_report
    from loyalflow.catalog.registry import get_catalog

    if isinstance(report, JourneyReport):
        series = _series(settings, report.period.start, report.period.end, report.journey_id)
        return journey_html(report, series), f"report-journey-{report.journey_id}.html"
    if isinstance(report, ExperimentReport):
        return experiment_html(report), f"report-experiment-{report.experiment}.html"
    period = ReportPeriod(start=report.period.start, end=report.period.end)
    url = settings.effective_database_url
    journeys = [
        journey_report(url, journey, period)
        for journey in sorted(get_catalog(settings).journeys.values(), key=lambda j: j.id)
    ]
    page = program_html(
        report,
        _series(settings, report.period.start, report.period.end, None),
        [j for j in journeys if j.total.entered],
        settings.program_name,
    )
    return page, f"report-kpis-{report.period.end:%Y-%m-%d}.html"


def write_html(report: "KpiReport | JourneyReport | ExperimentReport", out: Path | None) -> Path:
    from loyalflow.config import get_settings

    settings = get_settings()
    page, name = render(settings, report)
    target = out or settings.effective_output_dir / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    err.print(f"HTML report written to {target}")
    return target
