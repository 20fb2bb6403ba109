"""Message ledger: the row is written before the provider call and decides whether to call at all."""

from datetime import datetime

from loyalflow.models.db import read_scope, session_scope
from loyalflow.models.tables import Message, MessageStatus, utcnow
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
INTERRUPTED_REASON = (
    "the worker stopped during the provider call; not re-sent, to avoid a duplicate"
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


def earlier_outcome(url: str, message_id: str) -> SendResult | None:
    """The recorded outcome of an earlier attempt at this message, if it reached a final state.

    A row left in `sending` means an earlier attempt died between the ledger write and the
    provider's answer: the provider may have accepted the message, so it is marked failed
    rather than risking a second copy. Support staff see it and can re-send deliberately.
    """
    with read_scope(url) as session:  # almost always a first attempt: no row yet
        row = session.get(Message, message_id)
    if row is None:
        return None
    if row.status == MessageStatus.SENDING:
        return _write_off_interrupted(url, message_id)
    return _result(row) if row.status in FINAL_STATES else None


def _write_off_interrupted(url: str, message_id: str) -> SendResult:
    with session_scope(url) as session:
        row = session.get(Message, message_id)
        assert row is not None  # ledger rows are never deleted
        if row.status == MessageStatus.SENDING:
            row.status = MessageStatus.FAILED
            row.reason = INTERRUPTED_REASON
            row.updated_at = utcnow()
            session.add(row)
        return _result(row)


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
) -> SendResult | None:
    with session_scope(url) as session:
        row = session.get(Message, request.message_id) or new_row(request, status)
        row.status = status
        row.locale = locale or row.locale
        row.subject = subject or row.subject
        row.reason = reason
        row.provider_id = provider_id or row.provider_id
        row.fallback_ok = fallback_ok
        row.updated_at = utcnow()
        if status == MessageStatus.SENT:
            row.sent_at = at or row.updated_at
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
    """Records an intermediate state (`sending` before the provider call, `deferred` on retry)."""
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
) -> SendResult:
    """Records the final outcome; later retries of the activity return it unchanged."""
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
    )
    assert result is not None, f"{status} is not a final state"
    return result


def close(url: str, message_id: str, reason: str) -> None:
    with session_scope(url) as session:
        row = session.get(Message, message_id)
        if row is not None and row.status not in FINAL_STATES:
            row.status, row.reason, row.updated_at = MessageStatus.SKIPPED, reason, utcnow()
            session.add(row)
