"""Journeys: the list (trigger, version, paused or not); marketers and admins pause and resume
a journey's entries (new triggers start nothing; runs in flight go on), audited. Support staff
may read the list; the server refuses them the buttons' actions."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from loyalflow.console.journey_pauses import UnknownJourney, change_pause, journey_rows
from loyalflow.console.rendering import PREFIX, page
from loyalflow.console.sessions import Viewer
from loyalflow.console.web import Form, SettingsDep, checked_form, client_ip, role

router = APIRouter()
Reader = Annotated[Viewer, Depends(role("admin", "marketer", "support"))]
Marketing = Annotated[tuple[Viewer, Form], Depends(checked_form("admin", "marketer"))]
MAY_PAUSE = ("admin", "marketer")


@router.get("/journeys", response_class=HTMLResponse)
async def journeys(request: Request, viewer: Reader, settings: SettingsDep) -> HTMLResponse:
    rows = await asyncio.to_thread(journey_rows, settings)
    return page(
        request, "journeys.html", viewer, rows=rows, can_pause=viewer.user.role in MAY_PAUSE
    )


async def _change(
    request: Request,
    journey_id: str,
    acting: tuple[Viewer, Form],
    settings: SettingsDep,
    paused: bool,
) -> Response:
    viewer, _ = acting
    try:
        await asyncio.to_thread(
            change_pause, settings, journey_id, paused, viewer.user.name, client_ip(request)
        )
    except UnknownJourney:
        raise HTTPException(404, "no such journey") from None
    return RedirectResponse(PREFIX + "/journeys", 303)


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
