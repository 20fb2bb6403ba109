"""A member's whole story, from the database: events, points, tier and consent changes, journey
entries, steps and exits, every message and every message *not* sent, and what support staff did.

The database is the record (closed runs outlive Temporal's history retention): steps come from the
`journey_step` table that `record_progress` writes, messages from the ledger. For runs still going,
`member_timeline` adds the details only the workflow knows (what a wait waits for, branch choices)
from its `trail` query, when Temporal answers.
"""

import asyncio
import contextlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.tables import (
    Enrollment,
    Event,
    JourneyStep,
    Member,
    Message,
)
from loyalflow.models.timeline import Timeline, TimelineRun
from loyalflow.models.workflow_io import TrailEntry
from loyalflow.rules.loyalty import rules_from
from loyalflow.support.timeline_entries import (
    consent_entries,
    event_entry,
    message_entry,
    run_entries,
    run_link,
    support_entries,
    suppression_entries,
)
from loyalflow.support.timeline_points import points_entries

# Same instant: entries before steps before messages before exits.
RANK = {
    "event": 0,
    "points": 1,
    "tier": 2,
    "consent": 3,
    "suppression": 4,
    "journey_entered": 5,
    "journey_step": 6,
    "message": 7,
    "not_sent": 7,
    "goal": 8,
    "support": 9,
    "journey_exited": 10,
}
QUERY_TIMEOUT = timedelta(seconds=3)


def build_timeline(
    settings: Settings, member_id: str, trails: dict[str, list[TrailEntry]] | None = None
) -> Timeline | None:
    """The member's story from the database (None: no such member), oldest first."""
    rules = rules_from(settings.loyalty_rules_file)
    trails = trails or {}
    with session_scope(settings.effective_database_url) as session:
        member = session.get(Member, member_id)
        if member is None:
            return None
        events = list(session.exec(select(Event).where(Event.member_id == member_id)))
        entries = [event_entry(e, rules) for e in events]
        by_event_id = {e.event_id: e for e in events}
        entries += consent_entries(session, member_id, events)
        entries += suppression_entries(session, member)
        entries += points_entries(session, member_id)  # every ledger movement, with its cause
        runs = list(
            session.exec(
                select(Enrollment)
                .where(Enrollment.member_id == member_id)
                .order_by(col(Enrollment.entered_at))
            )
        )
        steps = list(
            session.exec(
                select(JourneyStep)
                .where(JourneyStep.member_id == member_id)
                .order_by(col(JourneyStep.at))
            )
        )
        for run in runs:
            run_steps = [s for s in steps if s.workflow_id == run.workflow_id]
            entries += run_entries(
                settings, session, run, by_event_id, run_steps, trails.get(run.workflow_id)
            )
        messages = session.exec(
            select(Message).where(Message.member_id == member_id, col(Message.is_test).is_(False))
        )
        entries += [message_entry(settings, m) for m in messages]
        entries += support_entries(settings, session, member_id)
        entries.sort(key=lambda e: (e.at, RANK[e.kind]))
        return Timeline(
            member_id=member_id,
            points=member.points,
            tier=member.tier,
            runs=[timeline_run(settings, r) for r in runs],
            entries=entries,
        )


def timeline_run(settings: Settings, run: Enrollment) -> TimelineRun:
    return TimelineRun(
        workflow_id=run.workflow_id,
        journey_id=run.journey_id,
        entry=run.entry,
        entered_at=run.entered_at,
        exited_at=run.exited_at,
        exit_reason=run.exit_reason,
        current_step=run.current_step,
        variant=run.variant,
        link=run_link(settings, run.workflow_id),
    )


def _running(url: str, member_id: str, limit: int | None = None) -> list[str]:
    with session_scope(url) as session:
        return list(
            session.exec(
                select(Enrollment.workflow_id)
                .where(Enrollment.member_id == member_id, col(Enrollment.exited_at).is_(None))
                .limit(limit)
            )
        )


async def query_trail(client: Client, workflow_id: str) -> list[TrailEntry] | None:
    """The run's trail from its `trail` query; None when Temporal or a worker does not answer."""
    with contextlib.suppress(RPCError, WorkflowQueryFailedError, TimeoutError):
        trail: list[TrailEntry] = await client.get_workflow_handle(workflow_id).query(
            "trail", result_type=list[TrailEntry], rpc_timeout=QUERY_TIMEOUT
        )
        return trail
    return None


async def running_trails(
    settings: Settings, member_id: str, client: Client, limit: int | None = None
) -> dict[str, list[TrailEntry]]:
    """The trail of each running run (at most `limit` of them) whose query Temporal answers."""
    url = settings.effective_database_url
    trails: dict[str, list[TrailEntry]] = {}
    for workflow_id in await asyncio.to_thread(_running, url, member_id, limit):
        trail = await query_trail(client, workflow_id)
        if trail is not None:
            trails[workflow_id] = trail
    return trails


async def member_timeline(
    settings: Settings, member_id: str, client: Client | None = None
) -> Timeline | None:
    """`build_timeline`, plus the trail of each running run when Temporal answers its query."""
    trails = await running_trails(settings, member_id, client) if client is not None else {}
    return await asyncio.to_thread(build_timeline, settings, member_id, trails)


def local(at: datetime, timezone: str) -> str:
    """`2026-12-02 09:00 Europe/Paris`: a time in the member's own zone."""
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        zone, timezone = ZoneInfo("UTC"), "UTC"
    return f"{at.astimezone(zone):%Y-%m-%d %H:%M} {timezone}"
