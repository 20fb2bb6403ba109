"""KPI snapshots computed in the API process for the dashboard, in the background
(`background_jobs.py`): the page renders at once and polls until the snapshot is stored."""

from loyalflow.analytics.kpi_models import GroupBy, Period
from loyalflow.analytics.snapshots import compute_snapshot
from loyalflow.console.background_jobs import BackgroundJobs, JobState
from loyalflow.rules.loyalty import LoyaltyRules

SnapshotKey = tuple[Period, GroupBy | None]

__all__ = ["JobState", "SnapshotJobs"]


class SnapshotJobs:
    def __init__(self) -> None:
        self._jobs: BackgroundJobs[SnapshotKey] = BackgroundJobs("kpi-snapshot")

    def start(self, url: str, rules: LoyaltyRules, period: Period, by: GroupBy | None) -> None:
        """Computes (and stores) the snapshot unless it is being computed already."""
        self._jobs.start((period, by), lambda: compute_snapshot(url, rules, period, by))

    def state(self, period: Period, by: GroupBy | None) -> JobState:
        return self._jobs.state((period, by))

    def shutdown(self) -> None:
        self._jobs.shutdown()
