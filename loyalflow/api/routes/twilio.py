"""Twilio webhooks: delivery reports for the ledger, and inbound SMS keywords (STOP, START, HELP).

Every request must carry a valid `X-Twilio-Signature`: an HMAC, with the account's auth token, of
the URL Twilio called and the form parameters. Twilio signs the public URL it called, not the one
this process sees behind a proxy, so the URL is rebuilt from `LOYALFLOW_PUBLIC_URL`.

Error 21610 (the recipient replied STOP to this sender, so Twilio refuses to deliver) is treated
like an inbound STOP we never received: the number is suppressed and the SMS topics its members
had granted are revoked (source `twilio-21610`), so the member's consent shows the truth and a
later START restores both.
"""

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlmodel import select
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from loyalflow.activities.channels.sms import UNSUBSCRIBED_RECIPIENT
from loyalflow.api.deps import SettingsDep, TemporalDep
from loyalflow.api.errors import error_responses
from loyalflow.api.templates import pick_locale, render
from loyalflow.config import Settings
from loyalflow.members.consent import (
    SMS_STOP,
    TWILIO_OPTED_OUT,
    load_member,
    members_with_phone,
    sms_opt_in,
    sms_opt_out,
)
from loyalflow.models.column_types import utcnow
from loyalflow.models.db import session_scope
from loyalflow.models.field_values import normalise_phone
from loyalflow.models.tables import Message, MessageStatus

router = APIRouter(prefix="/webhooks/twilio", tags=["webhooks"])
log = logging.getLogger(__name__)
MAX_FORM_BYTES = 64 * 1024

# Twilio's standard keywords (https://help.twilio.com/articles/223134027).
STOP_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

# Twilio's MessageStatus -> the ledger's. Anything Twilio has accepted counts as sent.
LEDGER_STATUS = {
    "accepted": MessageStatus.SENT,
    "scheduled": MessageStatus.SENT,
    "queued": MessageStatus.SENT,
    "sending": MessageStatus.SENT,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}
# Reports arrive out of order (`sent` after `delivered`): a row only moves forward.
_PROGRESS: dict[str, int] = {
    MessageStatus.SENDING: 0,
    MessageStatus.DEFERRED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.FAILED: 2,
    MessageStatus.BOUNCED: 2,
}


async def verified_form(request: Request, settings: Settings) -> ImmutableMultiDict[str, str]:
    """The form parameters, if Twilio signed them; 403 otherwise (nothing is read or changed)."""
    if settings.twilio_auth_token is None:
        log.error("a Twilio webhook arrived but LOYALFLOW_TWILIO_AUTH_TOKEN is not set")
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Twilio webhooks not configured")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "form too large")
    params = ImmutableMultiDict(
        parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    )
    url = settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    signature = request.headers.get("x-twilio-signature", "")
    if not signature or not validator.validate(url, params, signature):
        log.warning("refused a Twilio webhook with a missing or wrong signature for %s", url)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid Twilio signature")
    return params


def _phone(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return normalise_phone(value)
    except ValueError:
        return value  # not a number we can parse (a short code...): kept as Twilio sent it


def _failure_reason(twilio_status: str, params: Mapping[str, str]) -> str:
    code, message = params.get("ErrorCode"), params.get("ErrorMessage")
    reason = f"Twilio {twilio_status}" + (f" (error {code})" if code else "")
    if code == str(UNSUBSCRIBED_RECIPIENT):
        reason += ": recipient unsubscribed (replied STOP)"
    elif message:
        reason += f": {message}"
    return reason[:500]


def apply_status(
    url: str, message_id: str | None, sid: str, twilio_status: str, params: Mapping[str, str]
) -> Message | None:
    """Updates the ledger row the report is about; returns it, or None if there is none."""
    new = LEDGER_STATUS.get(twilio_status)
    with session_scope(url) as session:
        row = session.get(Message, message_id, with_for_update=True) if message_id else None
        if row is None and sid:
            by_sid = select(Message).where(Message.provider_id == sid).with_for_update()
            row = session.exec(by_sid).first()
        if row is None:
            return None
        if row.channel != "sms":
            return row  # not a message Twilio carried: leave it alone
        if row.provider_id and sid and row.provider_id != sid:
            log.warning(
                "Twilio report for %s names %s but the ledger has %s; ignored",
                row.message_id,
                sid,
                row.provider_id,
            )
            return row
        current = _PROGRESS.get(row.status)
        # A row written off because the worker died mid-call is corrected by what Twilio saw.
        interrupted = row.status == MessageStatus.FAILED and row.interrupted_at is not None
        if new is None or current is None:
            return row  # a status we do not track, or a row that was skipped
        if not interrupted and _PROGRESS[new] <= current:
            return row  # a repeat or a late report: never move backwards
        row.status = new
        row.provider_id = row.provider_id or sid or None
        if new == MessageStatus.FAILED:
            row.reason = _failure_reason(twilio_status, params)
        else:
            row.sent_at = row.sent_at or utcnow()
            if interrupted:
                row.reason = f"Twilio reported {twilio_status}"
        row.updated_at = utcnow()
        session.add(row)
        return row


@router.post(
    "/status",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(403, 413, 503),
)
async def message_status(
    request: Request, settings: SettingsDep, temporal: TemporalDep
) -> Response:
    """StatusCallback: `?message_id=<ledger id>` (added by the SMS channel) or the MessageSid."""
    params = await verified_form(request, settings)
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    twilio_status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    message_id = request.query_params.get("message_id")
    url = settings.effective_database_url
    row = await run_in_threadpool(apply_status, url, message_id, sid, twilio_status, params)
    if row is None:
        log.warning("Twilio report %s for unknown message %s (%s)", twilio_status, sid, message_id)
    if params.get("ErrorCode") == str(UNSUBSCRIBED_RECIPIENT):
        member = await run_in_threadpool(load_member, url, row.member_id) if row else None
        phone = _phone(params.get("To")) or (member.phone if member else None)
        if phone:
            await sms_opt_out(
                temporal,
                settings,
                phone,
                source=TWILIO_OPTED_OUT,
                key=f"twilio-21610|{sid}",
                reason=f"{TWILIO_OPTED_OUT}: recipient replied STOP (Twilio error 21610)",
            )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _twiml(text: str | None) -> Response:
    reply: Any = MessagingResponse()
    if text:
        reply.message(text)
    return Response(str(reply), media_type="text/xml")


@router.post(
    "/inbound",
    responses={
        200: {
            "description": "TwiML reply",
            "content": {"text/xml": {"schema": {"type": "string"}}},
        },
        **error_responses(403, 413, 503),
    },
)
async def inbound_message(
    request: Request, settings: SettingsDep, temporal: TemporalDep
) -> Response:
    """Opt-out and opt-in keywords apply to the number, whether or not a member has it."""
    params = await verified_form(request, settings)
    keyword = (params.get("Body") or "").strip().upper()
    phone = _phone(params.get("From"))
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if phone is None or keyword not in STOP_KEYWORDS | START_KEYWORDS | HELP_KEYWORDS:
        return _twiml(None)  # an ordinary reply: nothing to do, nothing to say
    url = settings.effective_database_url
    members = await run_in_threadpool(members_with_phone, url, phone)
    first = await run_in_threadpool(load_member, url, members[0]) if members else None
    if keyword in STOP_KEYWORDS:
        await sms_opt_out(
            temporal,
            settings,
            phone,
            source=SMS_STOP,
            key=f"sms|{sid}",
            reason=f"{SMS_STOP}: replied {keyword}",
        )
        name = "sms_stop.txt"
    elif keyword in START_KEYWORDS:
        await sms_opt_in(temporal, settings, phone, key=f"sms|{sid}")
        name = "sms_start.txt"
    else:
        name = "sms_help.txt"
    locale = pick_locale(name, first.locale if first else None)
    return _twiml(render(name, locale, program_name=settings.program_name).strip())
