"""The dashboard (admin and marketer; `/console/` shows it, see home.py): the page, its KPI
fragment that htmx polls while a snapshot is computed, and the Refresh action (audited)."""

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from loyalflow.analytics.snapshots import PRESET_DAYS
from loyalflow.config import Settings
from loyalflow.console.audit import audit
from loyalflow.console.dashboard_view import (
    BadQuery,
    DashboardQuery,
    Formats,
    kpi_figures,
    parse_query,
    report_context,
    series_context,
)
from loyalflow.console.i18n import translator
from loyalflow.console.rendering import PREFIX, locale_of, page
from loyalflow.console.sessions import Viewer
from loyalflow.console.snapshot_jobs import SnapshotJobs
from loyalflow.console.web import Form, SettingsDep, checked_form, client_ip, role
from loyalflow.rules.loyalty import rules_from

router = APIRouter()
DASHBOARD_ROLES = ("admin", "marketer")
Analyst = Annotated[Viewer, Depends(role(*DASHBOARD_ROLES))]
SERIES = ("sends", "opens", "clicks", "conversions", "revenue")


def jobs_of(request: Request) -> SnapshotJobs:
    jobs: SnapshotJobs = request.app.state.snapshot_jobs
    return jobs


def now() -> datetime:
    return datetime.now(UTC)


async def _figures_context(
    request: Request, viewer: Viewer, settings: Settings, query: DashboardQuery
) -> dict[str, Any]:
    url = settings.effective_database_url
    rules = rules_from(settings.loyalty_rules_file)
    figures = await asyncio.to_thread(kpi_figures, url, rules, jobs_of(request), query)
    report = figures.snapshot.report if figures.snapshot else None
    formats = Formats(locale_of(request, viewer), rules.currency)
    return {
        "query": query,
        "figures": figures,
        "report": report,
        "formats": formats,
        "poll_url": f"{PREFIX}/dashboard/figures?{query.query_string()}",
        **(report_context(report) if report else {}),
        **formats.as_filters(),
    }


async def dashboard_page(
    request: Request, viewer: Viewer, settings: Settings, params: dict[str, str]
) -> HTMLResponse:
    try:
        query = parse_query(params, now().date())
    except BadQuery as bad:
        return page(request, "error.html", viewer, 400, title="Invalid field", field=bad.field)
    _ = translator(locale_of(request, viewer))
    names = {name: _(name.capitalize()) for name in SERIES}
    url = settings.effective_database_url
    series = await asyncio.to_thread(series_context, url, query, names)
    context = await _figures_context(request, viewer, settings, query)
    return page(request, "dashboard.html", viewer, presets=PRESET_DAYS, **series, **context)


@router.get("/dashboard/figures", response_class=HTMLResponse)
async def dashboard_figures(
    request: Request, viewer: Analyst, settings: SettingsDep
) -> HTMLResponse:
    """The KPI part alone: what htmx polls until the snapshot is stored."""
    try:
        query = parse_query(dict(request.query_params), now().date())
    except BadQuery as bad:
        return page(request, "error.html", viewer, 400, title="Invalid field", field=bad.field)
    context = await _figures_context(request, viewer, settings, query)
    return page(request, "dashboard_figures.html", viewer, **context)


@router.post("/dashboard/refresh")
async def refresh(
    request: Request,
    acting: Annotated[tuple[Viewer, Form], Depends(checked_form(*DASHBOARD_ROLES))],
    settings: SettingsDep,
) -> Response:
    """Computes the period's snapshot again, whatever its age."""
    viewer, form = acting
    fields = {name: form.get(name) for name in ("days", "from", "to", "by") if form.get(name)}
    try:
        query = parse_query(fields, now().date())
    except BadQuery as bad:
        return page(request, "error.html", viewer, 400, title="Invalid field", field=bad.field)
    url = settings.effective_database_url
    await asyncio.to_thread(
        audit,
        url,
        viewer.user.name,
        "dashboard.refresh",
        "kpi-snapshot",
        client_ip(request),
        start=query.first.isoformat(),
        end=query.last.isoformat(),
        by=query.by,
    )
    jobs_of(request).start(url, rules_from(settings.loyalty_rules_file), query.period, query.by)
    return RedirectResponse(f"{PREFIX}/?{query.query_string()}", 303)
