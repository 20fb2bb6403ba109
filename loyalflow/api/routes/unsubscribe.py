"""Unsubscribe links: a confirmation page (GET) and RFC 8058 one-click unsubscribe (POST).

No bearer token: the signed link is the capability. GET never changes anything, because mail
scanners and link previews fetch links nobody clicked. POST does, whatever its body: mail clients
send `List-Unsubscribe=One-Click` (form-encoded or multipart), without cookies or script, and the
confirmation page's button posts the same field.
"""

import logging
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from loyalflow.api.deps import SettingsDep, TemporalDep
from loyalflow.api.errors import page_responses
from loyalflow.api.templates import accepted_languages, mask_email, page
from loyalflow.config import Settings
from loyalflow.members.consent import MemberNotFound, load_member, record_changes
from loyalflow.models.api import ConsentChange
from loyalflow.models.tables import Member
from loyalflow.security.tokens import (
    Purpose,
    TokenExpired,
    TokenPayload,
    TokenTampered,
    preferences_url,
    read_token,
)

router = APIRouter(prefix="/unsubscribe", tags=["links"])
log = logging.getLogger(__name__)
SOURCE = "unsubscribe-link"
AcceptLanguage = Annotated[str | None, Header()]


async def checked_link(
    settings: Settings, token: str, purpose: Purpose, accept_language: str | None
) -> tuple[TokenPayload, Member] | HTMLResponse:
    """The payload and member, or the page that explains why the link cannot be used.

    Shared with the preference page: the same rules hold for every link in a message."""
    languages = accepted_languages(accept_language)
    common = {"program_name": settings.program_name}
    try:
        payload = read_token(settings, token, purpose)
    except TokenExpired:
        # 410: the link was real once; the page links nowhere, a leaked old link shows nothing.
        return page("link_expired.html", *languages, status_code=410, **common)
    except TokenTampered:
        return page("link_invalid.html", *languages, status_code=403, **common)
    member = await run_in_threadpool(
        load_member, settings.effective_database_url, payload.member_id
    )
    if member is None:
        return page("not_found.html", *languages, status_code=404, **common)
    return payload, member


@router.get("/{token}", response_class=HTMLResponse, responses=page_responses(403, 404, 410))
async def confirm_unsubscribe(
    token: str, settings: SettingsDep, accept_language: AcceptLanguage = None
) -> HTMLResponse:
    checked = await checked_link(settings, token, "unsubscribe", accept_language)
    if isinstance(checked, HTMLResponse):
        return checked
    payload, member = checked
    return page(
        "unsubscribe.html",
        member.locale,
        program_name=settings.program_name,
        first_name=member.first_name,
        channel=payload.channel,
        topic=payload.topic,
        address=mask_email(member.email) if payload.channel == "email" else None,
    )


@router.post("/{token}", response_class=HTMLResponse, responses=page_responses(403, 404, 410))
async def unsubscribe(
    token: str, settings: SettingsDep, temporal: TemporalDep, accept_language: AcceptLanguage = None
) -> HTMLResponse:
    checked = await checked_link(settings, token, "unsubscribe", accept_language)
    if isinstance(checked, HTMLResponse):
        return checked
    payload, member = checked
    assert payload.channel is not None and payload.topic is not None  # read_token ensures it
    change = ConsentChange.model_validate(
        {"channel": payload.channel, "topic": payload.topic, "status": "revoked", "source": SOURCE}
    )
    try:
        # Keyed by the token: a double click or a mail client's retry is the same event.
        recorded = await record_changes(temporal, settings, member.id, [change], key=token)
    except MemberNotFound:
        return page(
            "not_found.html", member.locale, status_code=404, program_name=settings.program_name
        )
    if recorded:
        log.info(
            "member %s unsubscribed from %s/%s (message %s)",
            member.id,
            payload.channel,
            payload.topic,
            payload.message_id or "unknown",
        )
    return page(
        "unsubscribed.html",
        member.locale,
        program_name=settings.program_name,
        channel=payload.channel,
        topic=payload.topic,
        preferences_url=preferences_url(settings, member.id),
    )
