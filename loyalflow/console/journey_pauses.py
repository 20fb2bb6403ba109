"""Pausing and resuming a journey's entries, audited with who did it (a console user or `cli`)
in the same transaction as the change; and the journeys list the console shows."""

from dataclasses import dataclass
from datetime import datetime

from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.console.audit import record
from loyalflow.models.db import session_scope
from loyalflow.models.journey import Journey
from loyalflow.routing.pauses import pauses, set_paused


class UnknownJourney(LookupError):
    pass


@dataclass(frozen=True)
class JourneyRow:
    id: str
    name: str
    trigger: str
    version: str
    paused_at: datetime | None
    paused_by: str | None


def trigger_text(journey: Journey) -> str:
    trigger = journey.trigger
    if trigger.segment is not None:
        return f"segment {trigger.segment} (cron {trigger.cron})"
    return f"{trigger.event}" + (f" if {trigger.condition}" if trigger.condition else "")


def journey_rows(settings: Settings) -> list[JourneyRow]:
    """The catalogue's journeys, by id, with their pause (one small query for all)."""
    paused = pauses(settings.effective_database_url)
    rows = []
    for journey in sorted(get_catalog(settings).journeys.values(), key=lambda j: j.id):
        pause = paused.get(journey.id)
        rows.append(
            JourneyRow(
                journey.id,
                journey.name,
                trigger_text(journey),
                journey.version,
                pause.paused_at if pause else None,
                pause.paused_by if pause else None,
            )
        )
    return rows


def change_pause(
    settings: Settings, journey_id: str, paused: bool, by: str, ip: str | None = None
) -> bool:
    """Pauses (or resumes) the journey's entries; False if it already was. Audited only when
    something changed."""
    if journey_id not in get_catalog(settings).journeys:
        raise UnknownJourney(journey_id)
    with session_scope(settings.effective_database_url) as session:
        changed = set_paused(session, journey_id, paused, by)
        if changed:
            action = "journey.pause" if paused else "journey.resume"
            record(session, by, action, f"journey:{journey_id}", ip)
        return changed
