"""Paused journeys: while a journey's entries are paused, no trigger (event, segment sweep,
re-router) starts a run of it; runs already in flight go on. A trigger that arrives while the
journey is paused is not kept for later: resuming starts only the entries triggered after it."""

from sqlmodel import Session, select

from loyalflow.models.console_tables import JourneyPause
from loyalflow.models.db import read_scope


def is_paused(session: Session, journey_id: str) -> bool:
    return session.get(JourneyPause, journey_id) is not None


def paused_journey(url: str, journey_id: str) -> bool:
    with read_scope(url) as session:
        return is_paused(session, journey_id)


def pauses(url: str) -> dict[str, JourneyPause]:
    """Every paused journey (a handful of rows: one per paused journey at most)."""
    with read_scope(url) as session:
        return {row.journey_id: row for row in session.exec(select(JourneyPause))}


def set_paused(session: Session, journey_id: str, paused: bool, by: str) -> bool:
    """Pauses or resumes in `session`; False when the journey already was in that state."""
    existing = session.get(JourneyPause, journey_id)
    if paused == (existing is not None):
        return False
    if paused:
        session.add(JourneyPause(journey_id=journey_id, paused_by=by))
    else:
        session.delete(existing)
    return True
