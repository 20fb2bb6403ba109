"""Routing: stored events start the journeys they trigger and reach the member's running journeys.

The event row is committed before routing and marked `routed` after; everything here is
idempotent (workflow ids, event ids), so the re-router may safely repeat an interrupted routing.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from loyalflow.catalog import Catalog, load_catalog
from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.journey import Journey
from loyalflow.models.tables import Enrollment, Event, JourneyVersion, utcnow
from loyalflow.models.workflow_io import JourneyInput, MemberEvent
from loyalflow.workflows import search_attributes as sa
from loyalflow.workflows.journey import JourneyWorkflow

log = logging.getLogger(__name__)
REROUTE_INTERVAL = timedelta(seconds=10)
REROUTE_GRACE = timedelta(seconds=5)
ROUTING_CONCURRENCY = 32


@lru_cache(maxsize=4)
def _catalog(journeys_dir: Path, templates_dir: Path) -> Catalog:
    return load_catalog(journeys_dir, templates_dir)


def get_catalog(settings: Settings) -> Catalog:
    return _catalog(settings.journeys_dir, settings.templates_dir)


def publish_versions(url: str, catalog: Catalog) -> None:
    """Records each journey definition under its content hash, for reports and support."""
    try:
        _publish(url, catalog)
    except IntegrityError:
        _publish(url, catalog)  # another process published the same version at the same time


def _publish(url: str, catalog: Catalog) -> None:
    with session_scope(url) as session:
        for journey in catalog.journeys.values():
            if session.get(JourneyVersion, (journey.id, journey.version)) is None:
                session.add(
                    JourneyVersion(
                        journey_id=journey.id,
                        version=journey.version,
                        definition=journey.model_dump(mode="json"),
                    )
                )


def _signal_payload(event: Event) -> MemberEvent:
    return MemberEvent(
        event_id=event.event_id,
        type=event.type,
        occurred_at=event.occurred_at,
        properties=event.properties,
    )


def _enrollment_to_start(url: str, journey: Journey, event: Event) -> bool:
    """Records the enrollment before the start, so signals find it; False if re-entry forbids."""
    workflow_id = journey.workflow_id(event.member_id)
    with session_scope(url) as session:
        existing = session.get(Enrollment, workflow_id)
        if existing is not None:
            # Still running (or its start was interrupted): starting again is a no-op by id.
            return existing.exited_at is None
        session.add(
            Enrollment(
                workflow_id=workflow_id,
                journey_id=journey.id,
                journey_version=journey.version,
                member_id=event.member_id,
                entry=1,
                trigger_event_id=event.event_id,
                entered_at=utcnow(),
            )
        )
        return True


async def start_journey(
    client: Client, settings: Settings, journey: Journey, event: Event
) -> str | None:
    url = settings.effective_database_url
    if not await asyncio.to_thread(_enrollment_to_start, url, journey, event):
        return None
    workflow_id = journey.workflow_id(event.member_id)
    # A closed run with this id means this entry already happened.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            JourneyWorkflow.run,
            JourneyInput(
                journey=journey, member_id=event.member_id, trigger=_signal_payload(event)
            ),
            id=workflow_id,
            task_queue=settings.temporal_task_queue,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.MEMBER_ID, event.member_id),
                    SearchAttributePair(sa.JOURNEY_ID, journey.id),
                    SearchAttributePair(sa.JOURNEY_VERSION, journey.version),
                ]
            ),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    return workflow_id


async def _signal(handle: WorkflowHandle[JourneyWorkflow, object], event: MemberEvent) -> None:
    try:
        await handle.signal(JourneyWorkflow.member_event, event)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        # The run finished between our read and the signal: nothing left to tell it.


async def _route_member(
    client: Client, settings: Settings, events: list[Event], running: list[str]
) -> list[str]:
    """One member's events, in order (a later event must not overtake an earlier one).

    `running` is the member's running journeys; journeys started here join it, so a purchase
    later in the same batch reaches a welcome journey its join just started. Returns the ids of
    the events fully routed; stops at the first failure and leaves the rest to the re-router.
    """
    routed: list[str] = []
    for event in events:
        try:
            started = {
                workflow_id
                for journey in get_catalog(settings).triggered_by(event.type)
                if (workflow_id := await start_journey(client, settings, journey, event))
            }
            payload = _signal_payload(event)
            for workflow_id in running:
                if workflow_id not in started:
                    await _signal(client.get_workflow_handle(workflow_id), payload)
            running.extend(w for w in started if w not in running)
        except Exception:
            log.exception(
                "routing of event %s interrupted; the re-router will retry", event.event_id
            )
            break
        routed.append(event.event_id)
    return routed


def _running_enrollments(url: str, member_ids: list[str]) -> dict[str, list[str]]:
    """The members' running journeys, in one query for the whole batch."""
    running: dict[str, list[str]] = defaultdict(list)
    with session_scope(url) as session:
        rows = session.exec(
            select(Enrollment.member_id, Enrollment.workflow_id).where(
                col(Enrollment.member_id).in_(member_ids), col(Enrollment.exited_at).is_(None)
            )
        )
        for member_id, workflow_id in rows:
            running[member_id].append(workflow_id)
    return running


def _mark_routed(url: str, event_ids: list[str]) -> None:
    with session_scope(url) as session:
        session.execute(update(Event).where(col(Event.event_id).in_(event_ids)).values(routed=True))


async def route_events(client: Client, settings: Settings, events: list[Event]) -> bool:
    """Routes events, members in parallel, each member's in order; False if any is left over."""
    if not events:
        return True
    url = settings.effective_database_url
    by_member: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_member[event.member_id].append(event)
    running = await asyncio.to_thread(_running_enrollments, url, list(by_member))
    limit = asyncio.Semaphore(ROUTING_CONCURRENCY)

    async def bounded(member_id: str, member_events: list[Event]) -> list[str]:
        async with limit:
            return await _route_member(client, settings, member_events, running[member_id])

    routed = await asyncio.gather(*(bounded(m, evs) for m, evs in by_member.items()))
    done = [event_id for ids in routed for event_id in ids]
    if done:
        await asyncio.to_thread(_mark_routed, url, done)
    return len(done) == len(events)


def _unrouted(url: str, limit: int) -> list[Event]:
    cutoff = utcnow() - REROUTE_GRACE
    with session_scope(url) as session:
        rows = session.exec(
            select(Event)
            .where(col(Event.routed).is_(False), col(Event.received_at) < cutoff)
            .order_by(col(Event.received_at))
            .limit(limit)
        )
        return list(rows)


async def reroute_pending(client: Client, settings: Settings, limit: int = 500) -> int:
    events = await asyncio.to_thread(_unrouted, settings.effective_database_url, limit)
    if events:
        log.info("re-routing %d event(s) whose routing was interrupted", len(events))
        await route_events(client, settings, events)
    return len(events)


async def reroute_forever(client: Client, settings: Settings) -> None:
    while True:
        try:
            await reroute_pending(client, settings)
        except Exception:
            log.exception("re-router pass failed; trying again shortly")
        await asyncio.sleep(REROUTE_INTERVAL.total_seconds())
