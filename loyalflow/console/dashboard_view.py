"""What the dashboard shows: its period from the query string (a preset of whole days ending
yesterday, or custom dates), the live time series from the daily rollup, and the stored KPI
snapshot's figures (analytics/snapshots.py), formatted for the viewer's language.

The full KPI report is never computed here: with no fresh snapshot, one is started in the
background (snapshot_jobs.py) and the page says "computing" until it is stored."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from babel.numbers import format_currency, format_decimal, format_percent

from loyalflow.analytics.html_figures import cohort_rows, rfm_grid, series_chart, tier_chart
from loyalflow.analytics.kpi_models import GroupBy, KpiReport, Period
from loyalflow.analytics.snapshots import (
    DEFAULT_PRESET,
    PRESET_DAYS,
    Snapshot,
    day_period,
    stored_snapshot,
)
from loyalflow.analytics.timeseries import MAX_DAYS, daily_series
from loyalflow.console.snapshot_jobs import SnapshotJobs
from loyalflow.rules.loyalty import LoyaltyRules

GROUPINGS: tuple[GroupBy, ...] = ("tier", "locale")
NO_FIGURE = "\N{EN DASH}"  # a rate or average whose denominator is 0
HEAT_STEPS = 10  # cells shaded by class (heat-0 … heat-10): the CSP allows no inline style


class BadQuery(ValueError):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


@dataclass(frozen=True)
class DashboardQuery:
    first: date  # inclusive
    last: date  # inclusive
    preset: int | None  # days, when a preset was chosen
    by: GroupBy | None

    @property
    def period(self) -> Period:
        return day_period(self.first, self.last)

    def params(self) -> dict[str, str]:
        chosen = {"days": str(self.preset)} if self.preset else {}
        if not self.preset:
            chosen = {"from": self.first.isoformat(), "to": self.last.isoformat()}
        return chosen | ({"by": self.by} if self.by else {})

    def query_string(self) -> str:
        return urlencode(self.params())


def _day(field: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadQuery(field) from None


def parse_query(params: Mapping[str, str], today: date) -> DashboardQuery:
    """`days` (a preset), or `from` and `to` (dates, inclusive); `by` tier or locale."""
    by_text = params.get("by", "").strip()
    if by_text and by_text not in GROUPINGS:
        raise BadQuery("by")
    by: GroupBy | None = by_text or None
    start, end = params.get("from", "").strip(), params.get("to", "").strip()
    if start or end:
        if not start:
            raise BadQuery("from")
        if not end:
            raise BadQuery("to")
        first, last = _day("from", start), _day("to", end)
        if last > today:
            raise BadQuery("to")
        if first > last or (last - first).days >= MAX_DAYS:
            raise BadQuery("from")
        return DashboardQuery(first, last, None, by)
    days_text = params.get("days", "").strip() or str(DEFAULT_PRESET)
    if not days_text.isdigit() or int(days_text) not in PRESET_DAYS:
        raise BadQuery("days")
    days = int(days_text)
    return DashboardQuery(today - timedelta(days=days), today - timedelta(days=1), days, by)


def series_context(url: str, query: DashboardQuery, labels: dict[str, str]) -> dict[str, Any]:
    """The time series, live: a few rollup rows per day, cheap at any program size."""
    series = daily_series(url, query.first, query.last)
    return {"series": series_chart(series) | {"names": labels}, "missing_days": series.missing_days}


@dataclass(frozen=True)
class Figures:
    """The KPI part of the page: the snapshot's figures, or why there are none yet."""

    snapshot: Snapshot | None
    computing: bool
    error: str | None


def kpi_figures(
    url: str, rules: LoyaltyRules, jobs: SnapshotJobs, query: DashboardQuery
) -> Figures:
    period, by = query.period, query.by
    state = jobs.state(period, by)
    if state.running:
        return Figures(None, True, None)
    snapshot = stored_snapshot(url, period, by)
    if snapshot is not None and snapshot.fresh():
        return Figures(snapshot, False, None)
    if state.error is not None:
        return Figures(snapshot, False, state.error)
    jobs.start(url, rules, period, by)
    return Figures(None, True, None)


def heat_class(share: float | None) -> str:
    if share is None:
        return ""
    return f"heat-{round(max(0.0, min(1.0, share)) * HEAT_STEPS)}"


def report_context(report: KpiReport) -> dict[str, Any]:
    """Charts and heat tables from the same shapes the offline HTML report draws."""
    grids = []
    for axis in ("frequency", "monetary"):
        grid = rfm_grid(report.rfm.end, axis)
        top = max((c["members"] for row in grid["rows"] for c in row["cells"]), default=0)
        for row in grid["rows"]:
            for cell in row["cells"]:
                cell["heat"] = heat_class(cell["members"] / top if top else None)
        grids.append(grid)
    cohorts = cohort_rows(report.cohorts)
    for row in cohorts:
        for cell in row["cells"]:
            cell["heat"] = heat_class(cell["share"])
    return {
        "tiers_chart": tier_chart(report.tiers),
        "cohorts": cohorts,
        "cohort_months": max((len(row["cells"]) for row in cohorts), default=0),
        "rfm_grids": grids,
    }


@dataclass(frozen=True)
class Formats:
    """Numbers in the viewer's language."""

    locale: str
    currency: str

    def number(self, value: int | float | Decimal | None) -> str:
        return NO_FIGURE if value is None else format_decimal(value, locale=self.locale)

    def percent(self, value: float | None) -> str:
        return NO_FIGURE if value is None else format_percent(value, "#,##0.0%", locale=self.locale)

    def money(self, value: Decimal | None) -> str:
        if value is None:
            return NO_FIGURE
        return format_currency(value, self.currency, locale=self.locale)

    def moment(self, value: datetime) -> str:
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")

    def as_filters(self) -> dict[str, Callable[..., str]]:
        return {"number": self.number, "percent": self.percent, "money": self.money}
