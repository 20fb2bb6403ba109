"""Routing: stored events start the journeys they trigger and reach the member's running journeys.

The event row is committed before routing and marked `routed` after; everything here is
idempotent (workflow ids, event ids), so the re-router may safely repeat an interrupted routing.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass
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

from loyalflow.activities.journey_facts import member_facts
from loyalflow.catalog import Catalog, load_catalog
from loyalflow.config import Settings
from loyalflow.messaging import policy_from
from loyalflow.models.conditions import Condition, parse_condition
from loyalflow.models.db import read_scope, session_scope
from loyalflow.models.journey import Journey, WaitForStep
from loyalflow.models.tables import Enrollment, Event, JourneyVersion, utcnow
from loyalflow.models.workflow_io import JourneyInput, MemberEvent, MemberFactsRequest
from loyalflow.workflows import search_attributes as sa
from loyalflow.workflows.journey import JourneyWorkflow

log = logging.getLogger(__name__)
REROUTE_INTERVAL = timedelta(seconds=10)
ROUTING_CONCURRENCY = 32


@lru_cache(maxsize=4)
def _catalog(
    journeys_dir: Path, templates_dir: Path, policy_file: Path, locales: tuple[str, ...]
) -> Catalog:
    return load_catalog(journeys_dir, templates_dir, policy_from(policy_file), locales)


def get_catalog(settings: Settings) -> Catalog:
    """The journeys, loaded and checked once per process (a changed file needs a restart)."""
    return _catalog(
        settings.journeys_dir,
        settings.templates_dir,
        settings.messaging_policy_file,
        tuple(settings.template_locales),
    )


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


# Contact details a profile event may carry: never copied into Temporal (inputs, signals).
CONTACT_FIELDS = frozenset({"email", "phone", "first_name"})


def _signal_payload(event: Event) -> MemberEvent:
    """The event as journeys see it (trigger and signals), without contact details."""
    return MemberEvent(
        event_id=event.event_id,
        type=event.type,
        occurred_at=event.occurred_at,
        properties={k: v for k, v in event.properties.items() if k not in CONTACT_FIELDS},
    )


def _entry_to_start(url: str, journey: Journey, member_id: str, trigger: MemberEvent) -> int | None:
    """Records the enrollment before the start, so signals find it. Returns the entry number to
    start, or None when the re-entry rule says no. Idempotent: the same trigger event gives the
    same entry (whose start is then a no-op by workflow id)."""
    policy = journey.re_entry
    with session_scope(url) as session:
        entries = list(
            session.exec(
                select(Enrollment)
                .where(Enrollment.journey_id == journey.id, Enrollment.member_id == member_id)
                .order_by(col(Enrollment.entry))
            )
        )
        for existing in entries:
            if existing.trigger_event_id == trigger.event_id:
                # Routed before (the re-router repeats interrupted routings): start it again
                # only if it may not have started; a finished entry is not restarted.
                return existing.entry if existing.exited_at is None else None
        if entries:
            last = entries[-1]
            if policy.policy == "never":
                return None
            if policy.policy == "after_exit":
                if last.exited_at is None:
                    return None
                if policy.cooldown and trigger.occurred_at < last.exited_at + policy.cooldown:
                    return None
            if (
                policy.policy == "always"
                and policy.cooldown
                and trigger.occurred_at < last.entered_at + policy.cooldown
            ):
                return None
        entry = entries[-1].entry + 1 if entries else 1
        session.add(
            Enrollment(
                workflow_id=journey.workflow_id(member_id, entry),
                journey_id=journey.id,
                journey_version=journey.version,
                member_id=member_id,
                entry=entry,
                trigger_event_id=trigger.event_id,
                entered_at=utcnow(),
            )
        )
        return entry


def _try_entry(url: str, journey: Journey, member_id: str, trigger: MemberEvent) -> int | None:
    try:
        return _entry_to_start(url, journey, member_id, trigger)
    except IntegrityError:
        # Another router took this entry number at the same moment, for another event.
        return _entry_to_start(url, journey, member_id, trigger)


async def start_journey(
    client: Client, settings: Settings, journey: Journey, member_id: str, trigger: MemberEvent
) -> str | None:
    """Starts an entry of `journey` for the member if its re-entry rule allows; its workflow id."""
    url = settings.effective_database_url
    entry = await asyncio.to_thread(_try_entry, url, journey, member_id, trigger)
    if entry is None:
        return None
    workflow_id = journey.workflow_id(member_id, entry)
    # A closed run with this id means this entry already happened.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            JourneyWorkflow.run,
            JourneyInput(
                journey=journey,
                member_id=member_id,
                entry=entry,
                trigger=trigger,
                version=journey.version,
            ),
            id=workflow_id,
            task_queue=settings.temporal_task_queue,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.MEMBER_ID, member_id),
                    SearchAttributePair(sa.JOURNEY_ID, journey.id),
                    SearchAttributePair(sa.JOURNEY_VERSION, journey.version),
                ]
            ),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    return workflow_id


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


@dataclass(frozen=True)
class RunningJourney:
    workflow_id: str
    journey_id: str
    version: str
    trigger_event_id: str | None


def _already_in(journey: Journey, running: list[RunningJourney], event_id: str) -> bool:
    """The member is in this journey and the re-entry rule keeps them from a second entry: no
    need to check the trigger or ask the database. A run started by this very event is not
    counted (its start may have been interrupted: starting again is a no-op by id)."""
    return journey.re_entry.policy != "always" and any(
        r.journey_id == journey.id and r.trigger_event_id != event_id for r in running
    )


# Which event types a journey version reacts to; a content hash names one definition forever.
_LISTENED: dict[tuple[str, str], frozenset[str] | None] = {}


def listened_events(journey: Journey) -> frozenset[str]:
    """The events a running journey acts on: its exit rules, its goal, its wait_for steps."""
    events = {rule.event for rule in journey.exit_when}
    if journey.goal is not None:
        events.add(journey.goal.event)
    events |= {step.event for step in journey.steps if isinstance(step, WaitForStep)}
    return frozenset(events)


def _listened_from_db(url: str, running: RunningJourney) -> frozenset[str] | None:
    """An older version's events, from the definition published under its hash."""
    with read_scope(url) as session:
        row = session.get(JourneyVersion, (running.journey_id, running.version))
    return listened_events(Journey.model_validate(row.definition)) if row is not None else None


async def _listens(url: str, catalog: Catalog, running: RunningJourney, event_type: str) -> bool:
    """False only when the run's definition is known not to care: a signal it would ignore is
    an RPC and a history event saved. Unknown definitions are told everything."""
    key = (running.journey_id, running.version)
    if key not in _LISTENED:
        current = catalog.journeys.get(running.journey_id)
        if current is not None and current.version == running.version:
            _LISTENED[key] = listened_events(current)
        else:
            _LISTENED[key] = await asyncio.to_thread(_listened_from_db, url, running)
    listened = _LISTENED[key]
    return listened is None or event_type in listened


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
            payload = _signal_payload(event)
            candidates = [
                journey
                for journey in get_catalog(settings).triggered_by(event.type)
                if not _already_in(journey, running, event.event_id)
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
                if run.workflow_id not in started and await _listens(url, catalog, run, event.type):
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
    with read_scope(url) as session:
        rows = session.exec(
            select(Enrollment).where(
                col(Enrollment.member_id).in_(member_ids), col(Enrollment.exited_at).is_(None)
            )
        )
        for row in rows:
            running[row.member_id].append(
                RunningJourney(
                    row.workflow_id, row.journey_id, row.journey_version, row.trigger_event_id
                )
            )
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


def _unrouted(url: str, limit: int, grace: timedelta) -> list[Event]:
    cutoff = utcnow() - grace
    with read_scope(url) as session:
        rows = session.exec(
            select(Event)
            .where(col(Event.routed).is_(False), col(Event.received_at) < cutoff)
            .order_by(col(Event.received_at))
            .limit(limit)
        )
        return list(rows)


async def reroute_pending(client: Client, settings: Settings, limit: int = 500) -> int:
    grace = timedelta(seconds=settings.reroute_grace_seconds)
    events = await asyncio.to_thread(_unrouted, settings.effective_database_url, limit, grace)
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
