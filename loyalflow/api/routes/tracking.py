"""Tracked links and the open pixel (issue 16): record the hit, answer, route afterwards.

`GET /t/c/<token>` redirects (302) to the URL stored with the message at the token's position;
`/t/s/<token>` does the same for SMS links; `/t/o/<token>.gif` answers a 1x1 GIF that no cache
may keep. A token that is not ours, or names no stored message or link, gets a plain 404 and
records nothing: the redirect target only ever comes from the database, never from the
request, so there is no open redirect. The member's event is routed to journeys in a
background task after the response: the reader's browser never waits for Temporal.
"""

import base64
import logging
from typing import Literal

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, RedirectResponse
from temporalio.client import Client

from loyalflow.api.deps import SettingsDep, TemporalDep
from loyalflow.config import Settings
from loyalflow.members.engagement import record_hit
from loyalflow.members.engagement_rules import truncate_ip
from loyalflow.models.column_types import utcnow
from loyalflow.models.tables import Event
from loyalflow.routing.router import route_events
from loyalflow.security.tracking_tokens import (
    TrackingKind,
    TrackingTokenInvalid,
    read_tracking_token,
)

router = APIRouter(prefix="/t", tags=["tracking"], include_in_schema=False)
log = logging.getLogger(__name__)
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0", "Pragma": "no-cache"}
HitKind = Literal["open", "click", "sms_click"]


def _not_found() -> Response:
    return PlainTextResponse("not found", status_code=404, headers=NO_STORE)


async def _route_later(temporal: Client, settings: Settings, events: list[Event]) -> None:
    try:
        await route_events(temporal, settings, events)
    except Exception:  # the events are stored unrouted: the re-router will deliver them
        log.exception("routing engagement events failed; the re-router will retry")


async def _record(
    request: Request,
    settings: Settings,
    temporal: Client,
    background: BackgroundTasks,
    token_kind: TrackingKind,
    hit_kind: HitKind,
    token: str,
) -> str | Literal[False] | None:
    """The destination (None for an open), or False when the token is not valid."""
    try:
        tracked = read_tracking_token(settings, token_kind, token)
    except TrackingTokenInvalid:
        return False
    recorded = await run_in_threadpool(
        record_hit,
        settings.effective_database_url,
        hit_kind,
        tracked.message_id,
        tracked.position,
        method=request.method,
        user_agent=request.headers.get("user-agent"),
        ip_prefix=truncate_ip(request.client.host if request.client else None),
        at=utcnow(),
        bot_seconds=settings.tracking_bot_seconds,
    )
    if recorded is None:
        return False
    if recorded.to_route:
        background.add_task(_route_later, temporal, settings, recorded.to_route)
    return recorded.destination


async def _redirect(
    request: Request,
    settings: Settings,
    temporal: Client,
    background: BackgroundTasks,
    token_kind: TrackingKind,
    hit_kind: HitKind,
    token: str,
) -> Response:
    destination = await _record(
        request, settings, temporal, background, token_kind, hit_kind, token
    )
    if not destination:
        return _not_found()
    return RedirectResponse(destination, status_code=302, headers=NO_STORE)


@router.api_route("/c/{token}", methods=["GET", "HEAD"])
async def email_click(
    token: str,
    request: Request,
    settings: SettingsDep,
    temporal: TemporalDep,
    background: BackgroundTasks,
) -> Response:
    return await _redirect(request, settings, temporal, background, "click", "click", token)


@router.api_route("/s/{token}", methods=["GET", "HEAD"])
async def sms_click(
    token: str,
    request: Request,
    settings: SettingsDep,
    temporal: TemporalDep,
    background: BackgroundTasks,
) -> Response:
    return await _redirect(request, settings, temporal, background, "sms", "sms_click", token)


@router.api_route("/o/{token}.gif", methods=["GET", "HEAD"])
async def email_open(
    token: str,
    request: Request,
    settings: SettingsDep,
    temporal: TemporalDep,
    background: BackgroundTasks,
) -> Response:
    found = await _record(request, settings, temporal, background, "open", "open", token)
    if found is False:
        return _not_found()
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)
