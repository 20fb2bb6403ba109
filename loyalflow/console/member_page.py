"""Everything a member's console page shows, read in one place: profile, points and tier,
consents, suppressions, the latest runs, failed messages that can be re-sent, the timeline's
newest page (older pages load on demand), and what staff did to the member (the audit log).
Every list is bounded, whatever the member's history."""

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from temporalio.client import Client

from loyalflow.config import Settings
from loyalflow.members.consent import CHANNELS, page_topics
from loyalflow.members.profile import get_member
from loyalflow.models.console_tables import AuditEntry
from loyalflow.models.db import read_scope
from loyalflow.models.member_view import MemberOut
from loyalflow.models.tables import (
    Enrollment,
    Message,
    MessageStatus,
    SupportAction,
    Suppression,
    normalise_address,
)
from loyalflow.models.timeline import TimelineRun
from loyalflow.rules.loyalty import rules_from
from loyalflow.support.timeline import running_trails, timeline_run
from loyalflow.support.timeline_page import TimelinePage, timeline_page

FAILED_SHOWN = 50
AUDIT_SHOWN = 50
RUNS_SHOWN = 50


@dataclass(frozen=True)
class FailedMessage:
    message_id: str
    journey_id: str
    step_id: str
    channel: str
    reason: str | None
    retried_as: str | None


@dataclass(frozen=True)
class MemberPage:
    member: MemberOut
    suppressions: list[Suppression]
    runs: list[TimelineRun]  # the latest RUNS_SHOWN
    timeline: TimelinePage
    failed: list[FailedMessage]
    audit: list[AuditEntry]
    channels: tuple[str, ...]
    topics: list[str]


def target(member_id: str) -> str:
    return f"member:{member_id}"


def _database_parts(
    settings: Settings, member: MemberOut
) -> tuple[list[Suppression], list[TimelineRun], list[FailedMessage], list[AuditEntry], list[str]]:
    with read_scope(settings.effective_database_url) as session:
        runs = [
            timeline_run(settings, run)
            for run in session.exec(
                select(Enrollment)
                .where(Enrollment.member_id == member.id)
                .order_by(col(Enrollment.entered_at).desc())
                .limit(RUNS_SHOWN)
            )
        ]
        suppressions = [
            row
            for channel, address in (("email", member.email), ("sms", member.phone))
            if address
            and (row := session.get(Suppression, (normalise_address(channel, address), channel)))
        ]
        failed_rows = session.exec(
            select(Message)
            .where(Message.member_id == member.id, Message.status == MessageStatus.FAILED)
            .order_by(col(Message.created_at).desc())
            .limit(FAILED_SHOWN)
        ).all()
        retried = dict(
            session.exec(
                select(SupportAction.message_id, SupportAction.new_message_id).where(
                    SupportAction.member_id == member.id, SupportAction.action == "retry_send"
                )
            ).all()
        )
        failed = [
            FailedMessage(
                m.message_id,
                m.journey_id,
                m.step_id,
                m.channel,
                m.reason,
                retried.get(m.message_id),
            )
            for m in failed_rows
        ]
        audit = list(
            session.exec(
                select(AuditEntry)
                .where(AuditEntry.target == target(member.id))
                .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
                .limit(AUDIT_SHOWN)
            )
        )
    decisions = {(c.channel, c.topic): c for c in member.consents}
    topics = page_topics(settings, decisions)  # type: ignore[arg-type]
    return suppressions, runs, failed, audit, topics


async def timeline_of(
    settings: Settings, member_id: str, client: Client, before: datetime | None
) -> TimelinePage | None:
    """A page of the member's timeline, with what their running runs' workflows tell."""
    trails = await running_trails(settings, member_id, client, limit=RUNS_SHOWN)
    return await asyncio.to_thread(timeline_page, settings, member_id, before, trails)


async def member_page(
    settings: Settings, member_id: str, client: Client, before: datetime | None = None
) -> MemberPage | None:
    ladder = rules_from(settings.loyalty_rules_file).tiers
    url = settings.effective_database_url
    member = await asyncio.to_thread(get_member, url, member_id, ladder)
    if member is None:
        return None
    timeline = await timeline_of(settings, member_id, client, before)
    if timeline is None:
        return None
    suppressions, runs, failed, audit, topics = await asyncio.to_thread(
        _database_parts, settings, member
    )
    return MemberPage(member, suppressions, runs, timeline, failed, audit, CHANNELS, topics)
