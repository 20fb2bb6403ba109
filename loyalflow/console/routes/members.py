"""Members: find one by id, email or phone; their page; and what support staff do for them
(exit a run, re-send a failed message, change a consent), each audited with the user's name.
Marketers may look (contact details masked) but change nothing."""

import asyncio
import secrets
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from loyalflow.console.audit import audit
from loyalflow.console.masking import mask_email, mask_phone, sees_contacts
from loyalflow.console.member_page import member_page, target, timeline_of
from loyalflow.console.member_search import find_members
from loyalflow.console.rendering import PREFIX, page
from loyalflow.console.sessions import Viewer
from loyalflow.console.web import (
    Form,
    SettingsDep,
    TemporalDep,
    checked_form,
    client_ip,
    role,
    wants_fragment,
)
from loyalflow.members.consent import record_changes
from loyalflow.models.api import ConsentChange
from loyalflow.models.db import read_scope
from loyalflow.models.tables import Enrollment, Message
from loyalflow.support.resend import retry_send
from loyalflow.support.runs import SupportError, exit_run

router = APIRouter()
DONE = {
    "exit": "The run was exited.",
    "retry": "The message was sent again.",
    "consent": "The consent was recorded.",
}
FAILED = {
    "exit": "The run could not be exited: it may have ended already.",
    "retry": "The message could not be sent again.",
}
Reader = Annotated[Viewer, Depends(role("admin", "support", "marketer"))]
Acting = Annotated[tuple[Viewer, Form], Depends(checked_form("admin", "support"))]


def member_url(member_id: str, done: str | None = None) -> str:
    return f"{PREFIX}/members/{quote(member_id, safe='')}" + (f"?done={done}" if done else "")


@router.get("/members", response_class=HTMLResponse)
async def search(
    request: Request, viewer: Reader, settings: SettingsDep, q: str = "", after: str | None = None
) -> HTMLResponse:
    contacts = sees_contacts(viewer.user.role)
    hits, next_after = await asyncio.to_thread(
        find_members, settings.effective_database_url, q, by_contact=contacts, after=after
    )
    template = "members_results.html" if wants_fragment(request) else "members.html"
    return page(
        request,
        template,
        viewer,
        q=q,
        hits=hits,
        next_after=next_after,
        by_contact=contacts,
        email=(lambda e: e) if contacts else mask_email,
        phone=(lambda p: p) if contacts else mask_phone,
    )


@router.get("/members/{member_id}", response_class=HTMLResponse)
async def show(
    request: Request,
    member_id: str,
    viewer: Reader,
    settings: SettingsDep,
    temporal: TemporalDep,
    done: str | None = None,
    error: str | None = None,
    before: datetime | None = None,
) -> HTMLResponse:
    found = await member_page(settings, member_id, temporal, before)
    if found is None:
        raise HTTPException(404, "no such member")
    contacts = sees_contacts(viewer.user.role)
    return page(
        request,
        "member.html",
        viewer,
        m=found,
        can_act=contacts,
        email=found.member.email if contacts else mask_email(found.member.email),
        phone=found.member.phone if contacts else mask_phone(found.member.phone),
        done=DONE.get(done or ""),
        error=FAILED.get(error or ""),
    )


@router.get("/members/{member_id}/timeline", response_class=HTMLResponse)
async def older_entries(
    request: Request,
    member_id: str,
    viewer: Reader,
    settings: SettingsDep,
    temporal: TemporalDep,
    before: datetime,
) -> Response:
    """The next page of the timeline: rows for htmx to put in place of the "older" link (a
    browser that asks for it directly gets the member's page from there)."""
    if not wants_fragment(request):
        older = member_url(member_id) + f"?before={quote(before.isoformat(), safe='')}"
        return RedirectResponse(older, 303)
    timeline = await timeline_of(settings, member_id, temporal, before)
    if timeline is None:
        raise HTTPException(404, "no such member")
    return page(request, "member_timeline_rows.html", viewer, timeline=timeline)


def _belongs(url: str, member_id: str, workflow_id: str | None, message_id: str | None) -> bool:
    with read_scope(url) as session:
        if workflow_id is not None:
            run = session.get(Enrollment, workflow_id)
            return run is not None and run.member_id == member_id
        found = session.exec(select(Message.member_id).where(Message.message_id == message_id))
        return found.first() == member_id


def _field_missing(request: Request, viewer: Viewer, name: str) -> HTMLResponse:
    return page(request, "error.html", viewer, 400, title="Missing field", field=name)


@router.post("/members/{member_id}/runs/{workflow_id}/exit")
async def exit_member_run(
    request: Request,
    member_id: str,
    workflow_id: str,
    acting: Acting,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    viewer, form = acting
    reason = form.get("reason")[:200]
    if not reason:
        return _field_missing(request, viewer, "reason")
    url = settings.effective_database_url
    if not await asyncio.to_thread(_belongs, url, member_id, workflow_id, None):
        raise HTTPException(404, "no such run for this member")
    try:
        await exit_run(temporal, settings, workflow_id, reason, by=viewer.user.name)
    except (SupportError, RPCError, WorkflowUpdateFailedError):
        # The run had ended meanwhile, or Temporal refused: the page says the exit failed.
        return RedirectResponse(member_url(member_id) + "?error=exit", 303)
    await asyncio.to_thread(
        audit,
        url,
        viewer.user.name,
        "run.exit",
        target(member_id),
        client_ip(request),
        workflow_id=workflow_id,
        reason=reason,
    )
    return RedirectResponse(member_url(member_id, "exit"), 303)


@router.post("/members/{member_id}/messages/{message_id}/retry")
async def retry_member_message(
    request: Request,
    member_id: str,
    message_id: str,
    acting: Acting,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    viewer, _ = acting
    url = settings.effective_database_url
    if not await asyncio.to_thread(_belongs, url, member_id, None, message_id):
        raise HTTPException(404, "no such message for this member")
    try:
        new_id, result = await retry_send(temporal, settings, message_id, by=viewer.user.name)
    except SupportError:
        return RedirectResponse(member_url(member_id) + "?error=retry", 303)
    await asyncio.to_thread(
        audit,
        url,
        viewer.user.name,
        "message.retry",
        target(member_id),
        client_ip(request),
        message_id=message_id,
        new_message_id=new_id,
        status=result.status,
    )
    return RedirectResponse(member_url(member_id, "retry"), 303)


@router.post("/members/{member_id}/consent")
async def change_consent(
    request: Request,
    member_id: str,
    acting: Acting,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    viewer, form = acting
    channel, topic, status = form.get("channel"), form.get("topic"), form.get("status")
    for name, value in (("channel", channel), ("topic", topic), ("status", status)):
        if not value:
            return _field_missing(request, viewer, name)
    source = f"support:{viewer.user.name}"
    try:
        change = ConsentChange.model_validate(
            {"channel": channel, "topic": topic, "status": status, "source": source}
        )
    except ValidationError as err:
        field = ".".join(str(p) for p in err.errors()[0]["loc"])
        return page(request, "error.html", viewer, 400, title="Invalid field", field=field)
    try:
        stored = await record_changes(
            temporal, settings, member_id, [change], key=f"console:{secrets.token_hex(8)}"
        )
    except LookupError:
        raise HTTPException(404, "no such member") from None
    await asyncio.to_thread(
        audit,
        settings.effective_database_url,
        viewer.user.name,
        "consent.change",
        target(member_id),
        client_ip(request),
        channel=channel,
        topic=topic,
        status=status,
        changed=bool(stored),
    )
    return RedirectResponse(member_url(member_id, "consent"), 303)
