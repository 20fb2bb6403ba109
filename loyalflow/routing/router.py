"""Routing: stored events start the journeys they trigger and reach the member's running journeys.

The event row is committed before routing and marked `routed` after; everything here is
idempotent (workflow ids, event ids), so the re-router may safely repeat an interrupted routing.
"""

import asyncio
import logging
from collections import defaultdict
from functools import lru_cache

from sqlalchemy import func, select, update
from sqlmodel import col
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.models.column_types import utcnow
from loyalflow.models.conditions import Condition, parse_condition
from loyalflow.models.db import read_scope, session_scope
from loyalflow.models.journey import Journey
from loyalflow.models.tables import Enrollment, Event
from loyalflow.models.workflow_io import MemberEvent, MemberFactsRequest
from loyalflow.observability.metrics import routing_lag
from loyalflow.routing.listening import RunningJourney, already_in, listens
from loyalflow.routing.member_facts import member_facts
from loyalflow.routing.start import signal_payload, start_journey
from loyalflow.workflows.journey import JourneyWorkflow

log = logging.getLogger(__name__)
ROUTING_CONCURRENCY = 32


def _trigger_holds(url: str, journeys: list[Journey], event: Event) -> list[Journey]:
    """The journeys whose trigger condition holds for this event and the member's state now."""
    conditional = [j for j in journeys if j.trigger.condition is not None]
    if not conditional:
        return journeys
    fields = sorted({f for j in conditional for f in condition_of(j).member_fields()})
    facts = member_facts(url, MemberFactsRequest(member_id=event.member_id, fields=fields))
    return [
        j
        for j in journeys
        if j.trigger.condition is None
        or condition_of(j).evaluate(facts.values, event.properties, event.occurred_at)
    ]


def condition_of(journey: Journey) -> Condition:
    assert journey.trigger.condition is not None
    return _parsed(journey.trigger.condition)


@lru_cache(maxsize=256)
def _parsed(text: str) -> Condition:
    return parse_condition(text)


async def _signal(handle: WorkflowHandle[JourneyWorkflow, object], event: MemberEvent) -> None:
    try:
        await handle.signal(JourneyWorkflow.member_event, event)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        # The run finished between our read and the signal: nothing left to tell it.


async def _route_member(
    client: Client, settings: Settings, events: list[Event], running: list[RunningJourney]
) -> list[str]:
    """One member's events, in order (a later event must not overtake an earlier one).

    `running` is the member's running journeys; journeys started here join it, so a purchase
    later in the same batch reaches a welcome journey its join just started. Returns the ids of
    the events fully routed; stops at the first failure and leaves the rest to the re-router.
    """
    routed: list[str] = []
    url = settings.effective_database_url
    for event in events:
        try:
            payload = signal_payload(event)
            candidates = [
                journey
                for journey in get_catalog(settings).triggered_by(event.type)
                if not already_in(journey, running, event.event_id)
            ]
            if candidates:
                candidates = await asyncio.to_thread(_trigger_holds, url, candidates, event)
            started: dict[str, RunningJourney] = {}
            for journey in candidates:
                workflow_id = await start_journey(
                    client, settings, journey, event.member_id, payload
                )
                if workflow_id:
                    started[workflow_id] = RunningJourney(
                        workflow_id, journey.id, journey.version, event.event_id
                    )
            catalog = get_catalog(settings)
            for run in running:
                if run.workflow_id not in started and await listens(url, catalog, run, event.type):
                    await _signal(client.get_workflow_handle(run.workflow_id), payload)
            known = {run.workflow_id for run in running}
            running.extend(run for w, run in started.items() if w not in known)
        except Exception:
            log.exception(
                "routing of event %s interrupted; the re-router will retry", event.event_id
            )
            break
        routed.append(event.event_id)
    return routed


def _running_enrollments(url: str, member_ids: list[str]) -> dict[str, list[RunningJourney]]:
    """The members' running journeys, in one query for the whole batch."""
    running: dict[str, list[RunningJourney]] = defaultdict(list)
    # Five columns, not whole rows: this runs for every event, and ORM entities cost more.
    with read_scope(url) as session:
        rows = session.execute(
            select(
                col(Enrollment.member_id),
                col(Enrollment.workflow_id),
                col(Enrollment.journey_id),
                col(Enrollment.journey_version),
                col(Enrollment.trigger_event_id),
            ).where(col(Enrollment.member_id).in_(member_ids), col(Enrollment.exited_at).is_(None))
        )
        for member_id, *journey in rows:
            running[member_id].append(RunningJourney(*journey))
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
        routed_ids = set(done)
        _observe_lag([e for e in events if e.event_id in routed_ids])
    return len(done) == len(events)


def _observe_lag(events: list[Event]) -> None:
    now = utcnow()
    for event in events:
        routing_lag.observe(max(0.0, (now - event.received_at).total_seconds()))


def count_unrouted(url: str) -> int:
    """Events stored but not routed yet (routing in flight, or left to the re-router); served
    by the `routed` index, which holds few `false` entries when all is well."""
    with read_scope(url) as session:
        return int(
            session.execute(select(func.count()).where(col(Event.routed).is_(False))).scalar_one()
        )
