"""Everything a journey's page shows, read in one worker thread: the journey (loaded now, else
its last published definition), its report over the period (the funnel and per-step counts of
`analytics.journey_report`, the same as `GET /reports/journeys/{id}`), its diagram, each split
step's experiment report with its verdict, its versions and, when two are chosen, their diff."""

from dataclasses import dataclass
from datetime import datetime

from loyalflow.analytics.experiment_report import experiment_report
from loyalflow.analytics.journey_lookup import find_journey, split_steps
from loyalflow.analytics.journey_models import ExperimentReport, JourneyReport
from loyalflow.analytics.journey_report import journey_report
from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.console.journey_diagram import Diagram, diagram
from loyalflow.console.journey_overview import DayPeriod, trigger_text
from loyalflow.console.journey_versions import DiffLine, VersionRow, version_diff, versions
from loyalflow.models.db import read_scope
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
    report: JourneyReport
    diagram: Diagram
    experiments: list[ExperimentReport]
    versions: list[VersionRow]
    diff: VersionChoice | None


def journey_detail(
    settings: Settings,
    journey_id: str,
    period: DayPeriod,
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
    report_period = period.report_period()
    report = journey_report(url, journey, report_period)
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
        report=report,
        diagram=diagram(journey, trigger, report.total),
        experiments=[
            experiment_report(url, journey, split, report_period) for split in split_steps(journey)
        ],
        versions=versions(url, journey.id),
        diff=diff,
    )
