"""A journey's figures for its console page: the report over the period (the funnel and per-step
counts of `analytics.journey_report`, the same as `GET /reports/journeys/{id}`), the diagram with
those counts, and each split step's experiment report with its verdict.

They take seconds at a million members, so the page never computes them itself: they are computed
in the background (`background_jobs.py`) and kept in memory for a few minutes (the page says as of
when); meanwhile the page says "computing" and polls. The counts are "live" to within that age.
"""

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from threading import Lock

from loyalflow.analytics.experiment_report import experiment_report
from loyalflow.analytics.journey_lookup import split_steps
from loyalflow.analytics.journey_models import ExperimentReport, JourneyReport
from loyalflow.analytics.journey_report import journey_report
from loyalflow.console.background_jobs import BackgroundJobs, JobState
from loyalflow.console.journey_diagram import Diagram, diagram
from loyalflow.console.journey_overview import DayPeriod, trigger_text
from loyalflow.models.journey import Journey

FRESH_FOR = timedelta(minutes=5)
KEPT = 200  # figures kept in memory (journeys and periods looked at), the oldest dropped first
FiguresKey = tuple[str, str, DayPeriod]  # journey id, version, period


@dataclass(frozen=True)
class JourneyFigures:
    computed_at: datetime
    report: JourneyReport
    diagram: Diagram
    experiments: list[ExperimentReport]


def compute_figures(url: str, journey: Journey, period: DayPeriod) -> JourneyFigures:
    computed_at = datetime.now(UTC)
    report_period = period.report_period()
    report = journey_report(url, journey, report_period)
    return JourneyFigures(
        computed_at=computed_at,
        report=report,
        diagram=diagram(journey, trigger_text(journey), report.total),
        experiments=[
            experiment_report(url, journey, split, report_period) for split in split_steps(journey)
        ],
    )


class JourneyFigureJobs:
    def __init__(self) -> None:
        self._lock = Lock()
        self._kept: OrderedDict[FiguresKey, JourneyFigures] = OrderedDict()
        self._jobs: BackgroundJobs[FiguresKey] = BackgroundJobs("journey-figures", self._keep)

    def figures(
        self, url: str, journey: Journey, period: DayPeriod, *, retry: bool
    ) -> JourneyFigures | None:
        """The figures if fresh; else None, and their computation is started (after a failed
        one only with `retry`: the page's poll shows the failure rather than trying forever)."""
        key = (journey.id, journey.version, period)
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and datetime.now(UTC) - kept.computed_at < FRESH_FOR:
            return kept
        if retry or self._jobs.state(key).error is None:
            self._jobs.start(key, lambda: compute_figures(url, journey, period))
        return None

    def state(self, journey: Journey, period: DayPeriod) -> JobState:
        return self._jobs.state((journey.id, journey.version, period))

    def _keep(self, key: FiguresKey, figures: JourneyFigures) -> None:
        with self._lock:
            self._kept[key] = figures
            self._kept.move_to_end(key)
            while len(self._kept) > KEPT:
                self._kept.popitem(last=False)

    def shutdown(self) -> None:
        self._jobs.shutdown()
