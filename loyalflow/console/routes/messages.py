"""The message log page: filters in the URL (bookmarkable), htmx loads the next page in place."""

import asyncio
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from loyalflow.catalog.registry import get_catalog
from loyalflow.console.message_log import (
    BadFilter,
    Filters,
    message_page,
    parse_cursor,
    parse_day,
)
from loyalflow.console.rendering import PREFIX, page
from loyalflow.console.sessions import Viewer
from loyalflow.console.web import SettingsDep, role, wants_fragment
from loyalflow.models.tables import MessageStatus

router = APIRouter()
Reader = Annotated[Viewer, Depends(role("admin", "support", "marketer"))]
CHANNELS = ("email", "sms")


@router.get("/messages", response_class=HTMLResponse)
async def messages(
    request: Request,
    viewer: Reader,
    settings: SettingsDep,
    journey: str = "",
    step: str = "",
    channel: str = "",
    status: str = "",
    reason: str = "",
    since: str = "",
    until: str = "",
    before: str | None = None,
) -> HTMLResponse:
    try:
        filters = Filters(
            journey=journey[:64],
            step=step[:64],
            channel=channel[:16],
            status=status[:16],
            reason=reason,
            since=parse_day("since", since),
            until=parse_day("until", until),
        )
        cursor = parse_cursor(before)
    except BadFilter as bad:
        return page(request, "error.html", viewer, 400, title="Invalid field", field=bad.field)
    rows, next_cursor = await asyncio.to_thread(
        message_page, settings.effective_database_url, filters, cursor
    )
    next_url = None
    if next_cursor:
        next_url = f"{PREFIX}/messages?" + urlencode({**filters.query(), "before": next_cursor})
    partial = wants_fragment(request) and before
    return page(
        request,
        "messages_rows.html" if partial else "messages.html",
        viewer,
        rows=rows,
        next_url=next_url,
        filters=filters,
        journeys=sorted(get_catalog(settings).journeys),
        channels=CHANNELS,
        statuses=[s.value for s in MessageStatus],
    )
