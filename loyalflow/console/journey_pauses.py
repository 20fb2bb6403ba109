"""Pausing and resuming a journey's entries, audited with who did it (a console user or `cli`)
in the same transaction as the change."""

from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.console.audit import record
from loyalflow.models.db import session_scope
from loyalflow.routing.pauses import set_paused


class UnknownJourney(LookupError):
    pass


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
