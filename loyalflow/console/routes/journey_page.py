"""A journey's page, for marketers and admins (support staff get 403): its diagram with live
counts on every step, its experiments with their verdicts, its versions and the diff between two
of them, over a period of whole UTC days (default: the last 30). The figures come from
`journey_figures.py` (computed in the background; the page polls `…/figures` until they are)."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse

from loyalflow.config import Settings
from loyalflow.console.background_jobs import JobState
from loyalflow.console.journey_detail import JourneyDetail, journey_detail
from loyalflow.console.journey_figures import JourneyFigureJobs, JourneyFigures
from loyalflow.console.journey_overview import DayPeriod
from loyalflow.console.journey_versions import UnknownVersion
from loyalflow.console.rendering import page
from loyalflow.console.routes.journeys import JOURNEY_ID, FromDay, Marketer, ToDay, period_of
from loyalflow.console.web import SettingsDep

router = APIRouter()
VersionQuery = Annotated[str | None, Query(max_length=64, pattern=r"^[0-9a-zA-Z._-]*$")]
JourneyId = Annotated[str, Path(pattern=JOURNEY_ID, max_length=64)]


@router.get("/journeys/{journey_id}", response_class=HTMLResponse)
async def journey_page(
    request: Request,
    journey_id: JourneyId,
    viewer: Marketer,
    settings: SettingsDep,
    first: FromDay = None,
    last: ToDay = None,
    from_version: VersionQuery = None,
    to_version: VersionQuery = None,
) -> HTMLResponse:
    period = period_of(first, last)
    if bool(from_version) != bool(to_version):
        missing = "to_version" if from_version else "from_version"
        raise RequestValidationError(
            [{"type": "missing", "loc": ("query", missing), "msg": "choose two versions"}]
        )
    compare = (from_version, to_version) if from_version and to_version else None
    detail = await _detail_or_404(settings, journey_id, compare)
    figures, job = _figures(request, settings.effective_database_url, detail, period, retry=True)
    return page(
        request,
        "journey.html",
        viewer,
        journey=detail,
        period=period,
        from_version=from_version or "",
        to_version=to_version or "",
        figures=figures,
        job=job,
    )


@router.get("/journeys/{journey_id}/figures", response_class=HTMLResponse)
async def journey_figures(
    request: Request,
    journey_id: JourneyId,
    viewer: Marketer,
    settings: SettingsDep,
    first: FromDay = None,
    last: ToDay = None,
) -> HTMLResponse:
    """The figures' part of the page, which it polls while they are being computed."""
    period = period_of(first, last)
    detail = await _detail_or_404(settings, journey_id, None)
    figures, job = _figures(request, settings.effective_database_url, detail, period, retry=False)
    return page(
        request,
        "journey_figures.html",
        viewer,
        journey=detail,
        period=period,
        figures=figures,
        job=job,
    )


async def _detail_or_404(
    settings: Settings, journey_id: str, compare: tuple[str, str] | None
) -> JourneyDetail:
    try:
        detail = await asyncio.to_thread(journey_detail, settings, journey_id, compare)
    except UnknownVersion as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", exc.field), "msg": "no such version"}]
        ) from exc
    if detail is None:
        raise HTTPException(404, "no such journey")
    return detail


def _figures(
    request: Request, url: str, detail: JourneyDetail, period: DayPeriod, *, retry: bool
) -> tuple[JourneyFigures | None, JobState]:
    jobs: JourneyFigureJobs = request.app.state.journey_figures
    figures = jobs.figures(url, detail.definition, period, retry=retry)
    return figures, jobs.state(detail.definition, period)
