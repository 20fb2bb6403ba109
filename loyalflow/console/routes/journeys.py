"""Journeys, for marketers and admins (support staff get 403): the list (trigger, version,
paused or not, entered, in progress and converted over a period) with the journey files'
validation problems; pausing and resuming a journey's entries (new triggers start nothing; runs
in flight go on), audited. A journey's own page is in journey_page.py."""

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from loyalflow.console.journey_overview import DayPeriod, PeriodRefused, day_period, journey_list
from loyalflow.console.journey_pauses import UnknownJourney, change_pause
from loyalflow.console.journey_problems import journey_file_problems
from loyalflow.console.rendering import PREFIX, page
from loyalflow.console.sessions import Viewer
from loyalflow.console.web import Form, SettingsDep, checked_form, client_ip, role

router = APIRouter()
MARKETING_ROLES = ("admin", "marketer")
Marketer = Annotated[Viewer, Depends(role(*MARKETING_ROLES))]
Marketing = Annotated[tuple[Viewer, Form], Depends(checked_form(*MARKETING_ROLES))]
FromDay = Annotated[str | None, Query(alias="from", max_length=64)]
ToDay = Annotated[str | None, Query(alias="to", max_length=64)]
JOURNEY_ID = r"^[a-z][a-z0-9_]*$"


def period_of(first: str | None, last: str | None) -> DayPeriod:
    """The period form's days, or a 400 naming the field."""
    try:
        return day_period(first or None, last or None, datetime.now(UTC).date())
    except PeriodRefused as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", exc.field), "msg": str(exc)}]
        ) from exc


@router.get("/journeys", response_class=HTMLResponse)
async def journeys(
    request: Request,
    viewer: Marketer,
    settings: SettingsDep,
    first: FromDay = None,
    last: ToDay = None,
) -> HTMLResponse:
    period = period_of(first, last)
    listing = await asyncio.to_thread(journey_list, settings, period)
    problems = await asyncio.to_thread(journey_file_problems, settings)
    return page(
        request,
        "journeys.html",
        viewer,
        rows=listing.rows,
        rolled_up_to=listing.rolled_up_to,
        period=period,
        problems=problems,
        folder=str(settings.journeys_dir),
    )


async def _change(
    request: Request,
    journey_id: str,
    acting: tuple[Viewer, Form],
    settings: SettingsDep,
    paused: bool,
) -> Response:
    viewer, form = acting
    try:
        await asyncio.to_thread(
            change_pause, settings, journey_id, paused, viewer.user.name, client_ip(request)
        )
    except UnknownJourney:
        raise HTTPException(404, "no such journey") from None
    # Back where the button was: the list, or the journey's own page.
    own_page = form.get("back") == "journey"
    return RedirectResponse(PREFIX + "/journeys" + (f"/{journey_id}" if own_page else ""), 303)


@router.post("/journeys/{journey_id}/pause")
async def pause(
    request: Request, journey_id: str, acting: Marketing, settings: SettingsDep
) -> Response:
    return await _change(request, journey_id, acting, settings, True)


@router.post("/journeys/{journey_id}/resume")
async def resume(
    request: Request, journey_id: str, acting: Marketing, settings: SettingsDep
) -> Response:
    return await _change(request, journey_id, acting, settings, False)
