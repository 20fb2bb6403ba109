"""Reports by id, as the CLI and the API ask for them: None when no such journey or experiment
(neither loaded now nor ever published)."""

from loyalflow.analytics.experiment_report import MIN_PER_ARM, experiment_report
from loyalflow.analytics.journey_lookup import find_experiment, find_journey
from loyalflow.analytics.journey_models import ExperimentReport, JourneyReport, ReportPeriod
from loyalflow.analytics.journey_report import journey_report
from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.models.db import read_scope


def journey_report_by_id(
    settings: Settings, journey_id: str, period: ReportPeriod
) -> JourneyReport | None:
    url = settings.effective_database_url
    with read_scope(url) as session:
        journey = find_journey(session, get_catalog(settings).journeys, journey_id)
    return journey_report(url, journey, period) if journey is not None else None


def experiment_report_by_id(
    settings: Settings, experiment_id: str, period: ReportPeriod, min_per_arm: int = MIN_PER_ARM
) -> ExperimentReport | None:
    url = settings.effective_database_url
    with read_scope(url) as session:
        found = find_experiment(session, get_catalog(settings).journeys, experiment_id)
    if found is None:
        return None
    journey, split = found
    return experiment_report(url, journey, split, period, min_per_arm)
