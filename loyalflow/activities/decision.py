"""The send decision, in one transaction with the member row locked (so caps cannot be raced):
contact, suppression, consent, deferral expiry, quiet hours, frequency caps. Every outcome is
written to the ledger: `skipped` or `deferred` with the reason, or `sending` before the call.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlmodel import Session, col, select

from loyalflow.activities.ledger import new_row
from loyalflow.config import get_settings
from loyalflow.members.tiers import loyalty_variables
from loyalflow.models.column_types import utcnow
from loyalflow.models.db import session_scope
from loyalflow.models.tables import (
    Consent,
    Member,
    Message,
    MessageStatus,
    Suppression,
    normalise_address,
)
from loyalflow.models.template_vars import member_context
from loyalflow.models.workflow_io import SendRequest
from loyalflow.observability.metrics import MessageReason
from loyalflow.rules.loyalty import TierLadder, rules_from
from loyalflow.rules.messaging import Channel, MessagingPolicy, QuietHours, human_duration

NO_RULE = "no consent rule for topic"
# Rows that count against a frequency cap: the message left, or is leaving.
COUNTED = (
    MessageStatus.READY,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.BOUNCED,
)


@dataclass(frozen=True)
class Decision:
    action: Literal["send", "skip", "defer"]
    reason: str | None = None
    retry_at: datetime | None = None
    fallback_ok: bool = False  # skipped for a reason another channel may not have
    code: MessageReason = ""  # the reason as a bounded code, for metrics
    address: str | None = None
    locale: str = "en"
    timezone: str = "UTC"
    member: dict[str, Any] | None = None


def decide(
    url: str,
    request: SendRequest,
    policy: MessagingPolicy,
    now: datetime,
    ladder: TierLadder | None = None,
) -> Decision:
    """`ladder`: the program's tiers, for `next_tier` in templates (default: from the process's
    settings; the send activity passes its own)."""
    ladder = ladder or rules_from(get_settings().loyalty_rules_file).tiers
    with session_scope(url) as session:
        member = session.get(Member, request.member_id, with_for_update=True)
        if member is None:
            decision = Decision("skip", "member no longer exists", code="member_missing")
        else:
            decision = _decide(session, member, request, policy, now, ladder)
        _write(session, request, decision, now)
        return decision


def _decide(
    session: Session,
    member: Member,
    request: SendRequest,
    policy: MessagingPolicy,
    now: datetime,
    ladder: TierLadder,
) -> Decision:
    channel: Channel = request.channel
    address = member.email if channel == "email" else member.phone
    if not address:
        missing = "no email address" if channel == "email" else "no phone number"
        return Decision("skip", missing, fallback_ok=True, code="no_address")
    suppression = session.get(Suppression, (normalise_address(channel, address), channel))
    if suppression is not None:
        return Decision(
            "skip", f"suppressed: {suppression.reason}", fallback_ok=True, code="suppressed"
        )
    refusal = _consent_refusal(session, member, request, policy)
    if refusal is not None:
        code: MessageReason = "no_consent_rule" if refusal.startswith(NO_RULE) else "no_consent"
        return Decision("skip", refusal, fallback_ok=True, code=code)

    waits = [
        w
        for w in (
            _quiet_hours(member, request, policy, now),
            _cap(session, member, request, policy, now),
        )
        if w
    ]
    if waits:
        retry_at, reason, held_by = max(waits, key=lambda w: w[0])
        latest = request.due_at + policy.deferral_expiry
        if retry_at > latest:
            expiry = human_duration(policy.deferral_expiry)
            return Decision("skip", f"{reason}; would be more than {expiry} late", code="too_late")
        return Decision("defer", reason, retry_at=retry_at, code=held_by)
    return Decision(
        "send",
        address=address,
        locale=member.locale,
        timezone=member.timezone,
        member=member_context(member, loyalty_variables(session, member, ladder)),
    )


def _consent_refusal(
    session: Session, member: Member, request: SendRequest, policy: MessagingPolicy
) -> str | None:
    rule = policy.consent_rule(request.topic, request.channel)
    if rule is None:
        return f"{NO_RULE} {request.topic!r} on {request.channel}"
    if rule == "always":
        return None
    consent = session.get(Consent, (member.id, request.channel, request.topic))
    if rule == "granted" and (consent is None or consent.status != "granted"):
        return f"no consent: {request.channel} for {request.topic} was never granted"
    if consent is not None and consent.status == "revoked":
        source = f" ({consent.source})" if consent.source else ""
        return f"no consent: {request.channel} for {request.topic} revoked on {consent.at:%Y-%m-%d}{source}"
    return None


def _quiet_hours(
    member: Member, request: SendRequest, policy: MessagingPolicy, now: datetime
) -> tuple[datetime, str, MessageReason] | None:
    own = request.quiet_hours  # the journey's, when it sets its own
    quiet = (
        QuietHours(start=own.start, end=own.end) if own else policy.quiet_hours.get(request.channel)
    )
    until = quiet.deferral(now, member.timezone) if quiet else None
    if until is None:
        return None
    return until, f"quiet hours until {until:%Y-%m-%d %H:%M} {member.timezone}", "quiet_hours"


def _cap(
    session: Session, member: Member, request: SendRequest, policy: MessagingPolicy, now: datetime
) -> tuple[datetime, str, MessageReason] | None:
    """The latest moment a cap frees a slot, over every cap that is full."""
    waits: list[tuple[datetime, str, MessageReason]] = []
    for cap in policy.frequency_caps:
        if not cap.applies_to(request.channel, request.topic):
            continue
        query = select(Message.sent_at).where(
            Message.member_id == member.id,
            col(Message.status).in_(COUNTED),
            col(Message.sent_at) > now - cap.per,
            Message.message_id != request.message_id,
            col(Message.is_test).is_(False),  # a console test send took no slot of the member's
        )
        if cap.channel != "any":
            query = query.where(Message.channel == cap.channel)
        if cap.topic is not None:
            query = query.where(Message.topic == cap.topic)
        sent = sorted(t for t in session.exec(query) if t is not None)
        if len(sent) >= cap.max:
            # The slot frees when the oldest message that keeps the window full leaves it.
            frees_at = sent[len(sent) - cap.max] + cap.per
            until = f"until {frees_at:%Y-%m-%d %H:%M} UTC"
            waits.append((frees_at, f"frequency cap: {cap.describe()}, {until}", "frequency_cap"))
    return max(waits, key=lambda w: w[0]) if waits else None


def _write(session: Session, request: SendRequest, decision: Decision, now: datetime) -> None:
    status = {
        # Not `sending` yet: rendering comes first, and an attempt that dies before the
        # provider call must be retried, not written off as a possible duplicate.
        "send": MessageStatus.READY,
        "skip": MessageStatus.SKIPPED,
        "defer": MessageStatus.DEFERRED,
    }[decision.action]
    row = session.get(Message, request.message_id) or new_row(request, status)
    row.status = status
    row.reason = decision.reason
    row.fallback_ok = decision.fallback_ok
    row.updated_at = utcnow()
    if decision.action == "send":
        row.sent_at = now  # the decision instant, in the workflow's clock: what caps count
    session.add(row)
