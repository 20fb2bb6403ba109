"""What a journey's page shows at once, read in one worker thread: the journey (loaded now, else
its last published definition), its pause, its versions and, when two are chosen, their diff.
Its figures (the funnel, the diagram's counts, the experiments) take seconds at a million
members: `journey_figures.py` computes them in the background."""

from dataclasses import dataclass
from datetime import datetime

from loyalflow.analytics.journey_lookup import find_journey
from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.console.journey_overview import trigger_text
from loyalflow.console.journey_versions import DiffLine, VersionRow, version_diff, versions
from loyalflow.models.db import read_scope
from loyalflow.models.journey import Journey
from loyalflow.routing.pauses import pauses


@dataclass(frozen=True)
class VersionChoice:
    older: str
    newer: str
    lines: list[DiffLine]


@dataclass(frozen=True)
class JourneyDetail:
    id: str
    name: str
    trigger: str
    version: str
    loaded: bool  # False: the file is gone; the page shows its last published definition
    paused_at: datetime | None
    paused_by: str | None
    definition: Journey  # what the figures are computed for
    versions: list[VersionRow]
    diff: VersionChoice | None


def journey_detail(
    settings: Settings,
    journey_id: str,
    versions_to_compare: tuple[str, str] | None,
) -> JourneyDetail | None:
    """None: no such journey, neither loaded nor ever published. Raises UnknownVersion when a
    version to compare is not one of the journey's."""
    url = settings.effective_database_url
    loaded = get_catalog(settings).journeys
    with read_scope(url) as session:
        journey = find_journey(session, loaded, journey_id)
    if journey is None:
        return None
    diff = None
    if versions_to_compare is not None:
        older, newer = versions_to_compare
        diff = VersionChoice(older, newer, version_diff(url, journey.id, older, newer))
    trigger = trigger_text(journey)
    pause = pauses(url).get(journey.id)
    return JourneyDetail(
        id=journey.id,
        name=journey.name,
        trigger=trigger,
        version=journey.version,
        loaded=journey.id in loaded,
        paused_at=pause.paused_at if pause else None,
        paused_by=pause.paused_by if pause else None,
        definition=journey,
        versions=versions(url, journey.id),
        diff=diff,
    )
