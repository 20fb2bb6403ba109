"""KPI snapshots computed in the API process for the dashboard, in the background: the page
renders at once and polls until the snapshot is stored. One computation at a time (the report
is heavy; the machine's cores serve the pages too), and never two for the same period; a
failure is kept, with its message, until the next attempt, so the page can show it."""

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from loyalflow.analytics.kpi_models import GroupBy, Period
from loyalflow.analytics.snapshots import Snapshot, compute_snapshot
from loyalflow.rules.loyalty import LoyaltyRules

log = logging.getLogger(__name__)
SnapshotKey = tuple[Period, GroupBy | None]


@dataclass(frozen=True)
class JobState:
    running: bool
    error: str | None = None  # the last attempt's failure, when not running


class SnapshotJobs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[SnapshotKey, Future[Snapshot]] = {}
        self._errors: dict[SnapshotKey, str] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kpi-snapshot")

    def start(self, url: str, rules: LoyaltyRules, period: Period, by: GroupBy | None) -> None:
        """Computes the snapshot unless it is being computed already."""
        key = (period, by)
        with self._lock:
            if key in self._running:
                return
            self._errors.pop(key, None)
            future = self._executor.submit(compute_snapshot, url, rules, period, by)
            self._running[key] = future
        future.add_done_callback(lambda done: self._finished(key, done))

    def _finished(self, key: SnapshotKey, done: Future[Snapshot]) -> None:
        error = done.exception()
        with self._lock:
            self._running.pop(key, None)
            if error is not None:
                self._errors[key] = f"{type(error).__name__}: {error}"
        if error is not None:
            log.error("KPI snapshot for %s failed", key, exc_info=error)

    def state(self, period: Period, by: GroupBy | None) -> JobState:
        key = (period, by)
        with self._lock:
            return JobState(running=key in self._running, error=self._errors.get(key))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
