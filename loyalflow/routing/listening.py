"""Which running journeys an event concerns: the events each journey version listens to."""

import asyncio
from dataclasses import dataclass

from loyalflow.catalog.loader import Catalog
from loyalflow.models.db import read_scope
from loyalflow.models.journey import Journey, WaitForStep
from loyalflow.models.tables import JourneyVersion


@dataclass(frozen=True)
class RunningJourney:
    workflow_id: str
    journey_id: str
    version: str
    trigger_event_id: str | None


def already_in(journey: Journey, running: list[RunningJourney], event_id: str) -> bool:
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


async def listens(url: str, catalog: Catalog, running: RunningJourney, event_type: str) -> bool:
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
