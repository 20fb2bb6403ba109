"""Consent changes made by members themselves: unsubscribe links, the preference page, SMS STOP.

Every change is a `consent.updated` event, stored with `store_events` and routed with
`route_events`, never a direct write to the `consent` table: the member's history, derived state
and running journeys see it like any other event.

Only real changes become events: asking for the status a member already has records nothing. The
event id is derived from the request (its token or SMS id) and from the decision it replaces, so
a double-click or a retried POST repeats the same id and is stored once, while a member who
re-subscribes and later unsubscribes again with the same link gets a new event.

SMS suppressions (the `suppression` table) are written directly: they belong to a phone number,
not to a member, and STOP must stop a number even when no member has it.
"""

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from temporalio.client import Client

from loyalflow.catalog.event_types import event_types_from
from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.members.ingest import store_events
from loyalflow.models.api import ConsentChange, EventIn
from loyalflow.models.column_types import utcnow
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Consent, Member, Suppression, normalise_address
from loyalflow.routing.router import route_events
from loyalflow.rules.loyalty import rules_from
from loyalflow.rules.messaging import Channel, MessagingPolicy, policy_from

CHANNELS: tuple[Channel, ...] = ("email", "sms")
BoxState = Literal["on", "off", "always"]
# Sources of the revocations that a START keyword undoes.
SMS_STOP = "sms-stop"
TWILIO_OPTED_OUT = "twilio-21610"
STOP_SOURCES = (SMS_STOP, TWILIO_OPTED_OUT)
SMS_START = "sms-start"
# Suppression reasons a START lifts (the send activity uses TWILIO_OPTED_OUT too when Twilio
# refuses a send with 21610). A bounce or a complaint stays.
STOP_REASONS = (SMS_STOP, TWILIO_OPTED_OUT)


class MemberNotFound(LookupError):
    pass


@dataclass(frozen=True)
class CurrentConsent:
    status: str  # granted | revoked
    source: str | None
    at: datetime


@dataclass(frozen=True)
class MemberConsents:
    """What the preference page shows: one box per channel and topic."""

    member: Member
    channels: tuple[Channel, ...]
    topics: list[str]
    decisions: dict[tuple[str, str], CurrentConsent]  # (channel, topic); absent: never decided
    policy: MessagingPolicy
    sms_stopped: bool  # the member's number texted STOP: no SMS whatever the boxes say

    def status(self, channel: str, topic: str) -> str | None:
        decision = self.decisions.get((channel, topic))
        return None if decision is None else decision.status

    def box(self, channel: Channel, topic: str) -> BoxState:
        """Whether messages on this channel and topic may go, as the send decision sees it:
        a topic sent `unless_revoked` is on until the member says no, `always` cannot be off."""
        rule = self.policy.consent_rule(topic, channel)
        if rule == "always":
            return "always"
        status = self.status(channel, topic)
        if rule == "unless_revoked":
            return "off" if status == "revoked" else "on"
        return "on" if status == "granted" else "off"


def load_member(url: str, member_id: str) -> Member | None:
    with session_scope(url) as session:
        return session.get(Member, member_id)


def members_with_phone(url: str, phone: str) -> list[str]:
    """Several members may share a number (a family): an SMS keyword applies to all of them."""
    with session_scope(url) as session:
        return list(session.exec(select(Member.id).where(Member.phone == phone)))


def _decisions(url: str, member_id: str) -> dict[tuple[str, str], CurrentConsent]:
    with session_scope(url) as session:
        rows = session.exec(select(Consent).where(Consent.member_id == member_id))
        return {(r.channel, r.topic): CurrentConsent(r.status, r.source, r.at) for r in rows}


def page_topics(settings: Settings, decisions: dict[tuple[str, str], CurrentConsent]) -> list[str]:
    # No topic registry yet: the topics a member has decided on, plus those journeys send under.
    catalog_topics = {journey.topic for journey in get_catalog(settings).journeys.values()}
    return sorted(catalog_topics | {topic for _, topic in decisions})


def member_consents(settings: Settings, member_id: str) -> MemberConsents:
    url = settings.effective_database_url
    member = load_member(url, member_id)
    if member is None:
        raise MemberNotFound(member_id)
    decisions = _decisions(url, member_id)
    return MemberConsents(
        member=member,
        channels=CHANNELS,
        topics=page_topics(settings, decisions),
        decisions=decisions,
        policy=policy_from(settings.messaging_policy_file),
        sms_stopped=member.phone is not None and _stopped(url, member.phone),
    )


def _event_id(
    key: str, member_id: str, change: ConsentChange, before: CurrentConsent | None
) -> str:
    replaces = "none" if before is None else f"{before.status}@{before.at.isoformat()}"
    material = "|".join((key, member_id, change.channel, change.topic, change.status, replaces))
    return f"consent-{hashlib.sha256(material.encode()).hexdigest()[:48]}"


def _pending_events(
    url: str, member_id: str, changes: Sequence[ConsentChange], key: str
) -> list[EventIn]:
    if load_member(url, member_id) is None:
        raise MemberNotFound(member_id)
    decisions = _decisions(url, member_id)
    now = utcnow()
    events: list[EventIn] = []
    for change in changes:
        before = decisions.get((change.channel, change.topic))
        if before is not None and before.status == change.status:
            continue  # already so: a repeat click or an unchanged box records nothing
        events.append(
            EventIn(
                event_id=_event_id(key, member_id, change, before),
                member_id=member_id,
                type="consent.updated",
                occurred_at=now,
                properties=change.model_dump(exclude_none=True),
            )
        )
    return events


async def record_changes(
    temporal: Client,
    settings: Settings,
    member_id: str,
    changes: Sequence[ConsentChange],
    key: str,
) -> int:
    """Stores and routes the changes that differ from the member's current consent.

    `key` identifies the request (a link's token, an inbound SMS id): the same key and the same
    starting state give the same event ids. Returns how many new events were stored; routing
    left unfinished is completed by the re-router.
    """
    url = settings.effective_database_url
    events = await asyncio.to_thread(_pending_events, url, member_id, changes, key)
    if not events:
        return 0
    stored = await asyncio.to_thread(
        store_events,
        url,
        events,
        rules_from(settings.loyalty_rules_file),
        event_types_from(settings.events_file),
    )
    new = [s.event for s in stored if not s.duplicate]
    await route_events(temporal, settings, new)
    return len(new)


def _stopped(url: str, phone: str) -> bool:
    with session_scope(url) as session:
        row = session.get(Suppression, (phone, "sms"))
        return row is not None and any(r in row.reason for r in STOP_REASONS)


def suppress(url: str, address: str, channel: str, reason: str) -> bool:
    """Idempotent; an existing suppression keeps its first reason and time. True if new."""
    address = normalise_address(channel, address)
    try:
        with session_scope(url) as session:
            if session.get(Suppression, (address, channel)) is not None:
                return False
            session.add(Suppression(address=address, channel=channel, reason=reason[:255]))
            return True
    except IntegrityError:
        return False  # a concurrent request suppressed it first


def lift_suppression(url: str, address: str, channel: str, reasons: Sequence[str]) -> bool:
    """Only a suppression whose reason mentions one of `reasons`: START undoes a STOP, not a
    hard bounce or a complaint."""
    with session_scope(url) as session:
        row = session.get(Suppression, (address, channel), with_for_update=True)
        if row is None or not any(r in row.reason for r in reasons):
            return False
        session.delete(row)
        return True


def _sms_topics(url: str, member_id: str, status: str, sources: Sequence[str] | None) -> list[str]:
    with session_scope(url) as session:
        query = select(Consent.topic).where(
            Consent.member_id == member_id, Consent.channel == "sms", Consent.status == status
        )
        if sources is not None:
            query = query.where(col(Consent.source).in_(sources))
        return sorted(session.exec(query))


async def sms_opt_out(
    temporal: Client, settings: Settings, phone: str, source: str, key: str, reason: str
) -> list[str]:
    """STOP (or Twilio's 21610): suppress the number and revoke every SMS topic each member with
    that number has granted. Topics never decided stay undecided, so that START can restore
    exactly what STOP took away. Returns the members found."""
    url = settings.effective_database_url
    await asyncio.to_thread(suppress, url, phone, "sms", reason)
    members = await asyncio.to_thread(members_with_phone, url, phone)
    for member_id in members:
        topics = await asyncio.to_thread(_sms_topics, url, member_id, "granted", None)
        changes = [
            ConsentChange(channel="sms", topic=t, status="revoked", source=source) for t in topics
        ]
        await record_changes(temporal, settings, member_id, changes, key)
    return members


async def sms_opt_in(temporal: Client, settings: Settings, phone: str, key: str) -> list[str]:
    """START: lift a STOP suppression and grant again the topics a STOP revoked."""
    url = settings.effective_database_url
    await asyncio.to_thread(lift_suppression, url, phone, "sms", STOP_REASONS)
    members = await asyncio.to_thread(members_with_phone, url, phone)
    for member_id in members:
        topics = await asyncio.to_thread(_sms_topics, url, member_id, "revoked", STOP_SOURCES)
        changes = [
            ConsentChange(channel="sms", topic=t, status="granted", source=SMS_START)
            for t in topics
        ]
        await record_changes(temporal, settings, member_id, changes, key)
    return members
