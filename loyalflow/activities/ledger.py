"""Message ledger: the row is written before the provider call and decides whether to call at all.

A row is `ready` once the send is decided and `sending` only from the hand-over on (an SMTP
connection held and the recipient accepted, or the Twilio request about to leave): a retry that
finds `ready` simply sends; one that finds `sending` knows the provider may have the message.
"""

from datetime import datetime
from typing import Literal

from loyalflow.models.column_types import utcnow
from loyalflow.models.db import read_scope, session_scope
from loyalflow.models.tables import Message, MessageStatus
from loyalflow.models.workflow_io import SendRequest, SendResult

# Rows in these states are final: a retried activity returns them instead of sending again.
FINAL_STATES = {
    MessageStatus.SENT,
    MessageStatus.SKIPPED,
    MessageStatus.FAILED,
    MessageStatus.DELIVERED,
    MessageStatus.BOUNCED,
}
DELIVERY_REPORTED = {MessageStatus.DELIVERED, MessageStatus.BOUNCED}
InterruptedSend = Literal["write_off", "resend"]
# How a written-off row's reason begins (the rest says when it was handed over, and to whom).
INTERRUPTED_PREFIX = "interrupted: "


def _interrupted_reason(row: Message, what: InterruptedSend) -> str:
    handed = f"{row.handed_at:%Y-%m-%d %H:%M:%S} UTC" if row.handed_at else "an unknown time"
    where = f"handed to the {row.channel} provider at {handed}"
    if what == "write_off":
        return (
            f"{INTERRUPTED_PREFIX}{where}, then the worker stopped before the provider answered; "
            "not re-sent, to avoid a duplicate (LOYALFLOW_INTERRUPTED_SEND=write_off)"
        )
    return (
        f"re-sent: an attempt {where} was interrupted before the provider answered; sent again "
        "with the same Message-ID, a duplicate is possible (LOYALFLOW_INTERRUPTED_SEND=resend)"
    )


def _result(row: Message) -> SendResult:
    status = (
        "sent" if row.status in (MessageStatus.DELIVERED, MessageStatus.BOUNCED) else row.status
    )
    return SendResult(
        message_id=row.message_id,
        status=status,
        reason=row.reason,
        provider_id=row.provider_id,
        subject=row.subject,
        fallback_ok=row.fallback_ok,
    )


def earlier_outcome(
    url: str, message_id: str, interrupted: InterruptedSend = "write_off"
) -> SendResult | None:
    """The recorded outcome of an earlier attempt at this message, if it reached a final state.

    A row left in `sending` means an earlier attempt died after the hand-over and before the
    provider's answer: the provider may have accepted the message. `write_off` marks it failed
    rather than risking a second copy (support staff list these and can re-send deliberately);
    `resend` sets it back to `ready` so this attempt sends it again.
    """
    with read_scope(url) as session:  # almost always a first attempt: no row yet
        row = session.get(Message, message_id)
    if row is None:
        return None
    if row.status == MessageStatus.SENDING:
        return _settle_interrupted(url, message_id, interrupted)
    return _result(row) if row.status in FINAL_STATES else None


def _settle_interrupted(url: str, message_id: str, what: InterruptedSend) -> SendResult | None:
    with session_scope(url) as session:
        row = session.get(Message, message_id)
        assert row is not None  # ledger rows are never deleted
        if row.status == MessageStatus.SENDING:
            row.interrupted_at = row.handed_at or row.updated_at
            row.reason = _interrupted_reason(row, what)
            row.status = MessageStatus.FAILED if what == "write_off" else MessageStatus.READY
            row.updated_at = utcnow()
            session.add(row)
        return _result(row) if row.status in FINAL_STATES else None


def _written_off(row: Message) -> bool:
    """Failed only because an attempt was interrupted: the attempt's own late outcome, when it
    arrives after all (a cancelled attempt finishing its conversation), is the truth."""
    return row.status == MessageStatus.FAILED and row.interrupted_at is not None


def hand_over(url: str, request: SendRequest, *, locale: str, subject: str | None) -> None:
    """The message is about to reach the provider: from now on a retry must not assume it did not."""
    with session_scope(url) as session:
        row = session.get(Message, request.message_id) or new_row(request, MessageStatus.SENDING)
        row.status = MessageStatus.SENDING
        row.locale = locale
        row.subject = subject or row.subject
        row.handed_at = row.updated_at = utcnow()
        session.add(row)


def new_row(request: SendRequest, status: MessageStatus) -> Message:
    return Message(
        message_id=request.message_id,
        member_id=request.member_id,
        journey_id=request.journey_id,
        workflow_id=request.workflow_id,
        step_id=request.step_id,
        channel=request.channel,
        template=request.template,
        topic=request.topic,
        variant=request.variant,
        status=status,
    )


def _upsert(
    url: str,
    request: SendRequest,
    status: MessageStatus,
    *,
    locale: str | None,
    subject: str | None,
    reason: str | None,
    provider_id: str | None,
    at: datetime | None = None,
    fallback_ok: bool = False,
    ambiguous: bool = False,
) -> SendResult | None:
    with session_scope(url) as session:
        row = session.get(Message, request.message_id) or new_row(request, status)
        late = _written_off(row)
        if row.status in FINAL_STATES and not late:
            return _result(row)  # never moves a final outcome (a retry may have recorded it)
        row.status = status
        row.locale = locale or row.locale
        row.subject = subject or row.subject
        row.reason = reason
        row.provider_id = provider_id or row.provider_id
        row.fallback_ok = fallback_ok
        row.updated_at = utcnow()
        if ambiguous:
            row.interrupted_at = row.handed_at or row.updated_at
        if status == MessageStatus.SENT:
            row.sent_at = at or row.updated_at
            if late:
                row.reason = (
                    f"{reason}; recorded late: the attempt finished after it was written off"
                )
            elif row.interrupted_at is not None:
                row.reason = (
                    f"{reason}; sent again after an attempt handed over at "
                    f"{row.interrupted_at:%Y-%m-%d %H:%M:%S} UTC was interrupted "
                    "(a duplicate is possible)"
                )
        session.add(row)
        return _result(row) if status in FINAL_STATES else None


def mark(
    url: str,
    request: SendRequest,
    status: MessageStatus,
    *,
    locale: str | None = None,
    subject: str | None = None,
    reason: str | None = None,
) -> None:
    """Records an intermediate state (`deferred` when the provider asked to try later)."""
    assert status not in FINAL_STATES
    _upsert(url, request, status, locale=locale, subject=subject, reason=reason, provider_id=None)


def finish(
    url: str,
    request: SendRequest,
    status: MessageStatus,
    *,
    reason: str | None = None,
    provider_id: str | None = None,
    at: datetime | None = None,
    fallback_ok: bool = False,
    ambiguous: bool = False,
) -> SendResult:
    """Records the final outcome; later retries of the activity return it unchanged.
    `ambiguous`: the provider may have the message although this attempt got no answer."""
    result = _upsert(
        url,
        request,
        status,
        locale=None,
        subject=None,
        reason=reason,
        provider_id=provider_id,
        at=at,
        fallback_ok=fallback_ok,
        ambiguous=ambiguous,
    )
    assert result is not None, f"{status} is not a final state"
    return result


def close(url: str, message_id: str, reason: str) -> str | None:
    """Skips a message not final yet; returns its channel, or None when there was none to close."""
    with session_scope(url) as session:
        row = session.get(Message, message_id)
        if row is None or row.status in FINAL_STATES:
            return None
        row.status, row.reason, row.updated_at = MessageStatus.SKIPPED, reason, utcnow()
        session.add(row)
        return row.channel
