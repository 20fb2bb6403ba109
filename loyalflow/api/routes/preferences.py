"""The preference page: one checkbox per channel and topic, changed by the member themselves.

The signed link is the capability and the only credential (no cookies, so no cross-site request
can ride on a session): a POST with an invalid token is refused like a GET. Each box carries the
state it was shown in, so only the boxes the member changed become events: a stale tab
submitted later does not undo a decision made elsewhere in between.

A box shows whether messages may go, as the send decision sees it (`messaging.yaml`): a topic
sent `unless_revoked` is ticked until the member unticks it; an `always` (transactional) one is
shown ticked and disabled.
"""

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from loyalflow.api.deps import SettingsDep, TemporalDep
from loyalflow.api.errors import page_responses, text_responses
from loyalflow.api.routes.unsubscribe import checked_link
from loyalflow.api.templates import mask_email, page
from loyalflow.config import Settings
from loyalflow.members.consent import MemberConsents, member_consents, record_changes
from loyalflow.models.api import ConsentChange

router = APIRouter(prefix="/preferences", tags=["links"])
SOURCE = "preference-centre"
MAX_FORM_BYTES = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"
AcceptLanguage = Annotated[str | None, Header()]
_SHOWN = ("on", "off")


def _page(settings: Settings, view: MemberConsents, *, saved: bool = False) -> HTMLResponse:
    member = view.member
    return page(
        "preferences.html",
        member.locale,
        program_name=settings.program_name,
        first_name=member.first_name,
        address=mask_email(member.email),
        channels=view.channels,
        topics=view.topics,
        boxes={
            f"{channel}:{topic}": view.box(channel, topic)
            for channel in view.channels
            for topic in view.topics
        },
        sms_stopped=view.sms_stopped,
        saved=saved,
    )


def changes_from_form(fields: list[tuple[str, str]], view: MemberConsents) -> list[ConsentChange]:
    """`shown` = `channel:topic:on|off` as displayed, `on` = `channel:topic` for each ticked box."""
    ticked = {value for name, value in fields if name == "on"}
    boxes = {
        (channel, topic)
        for channel in view.channels
        for topic in view.topics
        if view.box(channel, topic) != "always"  # transactional: not the member's to switch off
    }
    changes: list[ConsentChange] = []
    for name, value in fields:
        if name != "shown":
            continue
        key, _, shown = value.rpartition(":")
        channel, _, topic = key.partition(":")
        if (channel, topic) not in boxes or shown not in _SHOWN:
            continue  # a box this page does not offer: ignored, not invented
        boxes.discard((channel, topic))  # a repeated field counts once
        if (shown == "on") == (key in ticked):
            continue  # untouched
        status = "granted" if key in ticked else "revoked"
        changes.append(
            ConsentChange.model_validate(
                {"channel": channel, "topic": topic, "status": status, "source": SOURCE}
            )
        )
    return changes


@router.get("/{token}", response_class=HTMLResponse, responses=page_responses(403, 404, 410))
async def show_preferences(
    token: str, settings: SettingsDep, accept_language: AcceptLanguage = None
) -> HTMLResponse:
    checked = await checked_link(settings, token, "preferences", accept_language)
    if isinstance(checked, HTMLResponse):
        return checked
    _, member = checked
    view = await run_in_threadpool(member_consents, settings, member.id)
    return _page(settings, view)


@router.post(
    "/{token}",
    response_class=HTMLResponse,
    responses={**page_responses(403, 404, 410), **text_responses(413, 415)},
)
async def save_preferences(
    token: str,
    request: Request,
    settings: SettingsDep,
    temporal: TemporalDep,
    accept_language: AcceptLanguage = None,
) -> Response:
    checked = await checked_link(settings, token, "preferences", accept_language)
    if isinstance(checked, HTMLResponse):
        return checked  # an invalid token changes nothing, whatever the form says
    _, member = checked
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        return PlainTextResponse(f"expected {FORM_TYPE}", status_code=415)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return PlainTextResponse("form too large", status_code=413)
    fields = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    view = await run_in_threadpool(member_consents, settings, member.id)
    changes = changes_from_form(fields, view)
    if changes:
        # Keyed by the token: the same form posted twice records each change once.
        await record_changes(temporal, settings, member.id, changes, key=token)
        view = await run_in_threadpool(member_consents, settings, member.id)
    return _page(settings, view, saved=True)
