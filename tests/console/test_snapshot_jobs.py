"""The dashboard's background KPI computations: a snapshot is stored and the job ends; a failure
is kept with its message (the page shows it) until the next attempt."""

import time
from datetime import date
from pathlib import Path

from loyalflow.analytics.kpi_models import GroupBy, Period
from loyalflow.analytics.snapshots import day_period, stored_snapshot
from loyalflow.console.snapshot_jobs import JobState, SnapshotJobs
from loyalflow.models.db import upgrade_database
from loyalflow.rules.loyalty import LoyaltyRules, TierLadder, TierLevel

RULES = LoyaltyRules(tiers=TierLadder(levels=(TierLevel(name="Bronze", threshold=0),)))
PERIOD = day_period(date(2026, 3, 1), date(2026, 3, 31))


def finished(jobs: SnapshotJobs, period: Period, by: GroupBy | None) -> JobState:
    for _ in range(600):  # a report of an empty database: well under a minute
        state = jobs.state(period, by)
        if not state.running:
            return state
        time.sleep(0.1)
    raise AssertionError("the computation never ended")


def test_a_job_stores_the_snapshot_and_a_failure_is_kept_with_its_message(
    tmp_path: Path,
) -> None:
    jobs = SnapshotJobs()
    try:
        url = f"sqlite:///{tmp_path / 'loyalflow.db'}"
        upgrade_database(url)
        jobs.start(url, RULES, PERIOD, "locale")
        assert finished(jobs, PERIOD, "locale") == JobState(running=False, error=None)
        snapshot = stored_snapshot(url, PERIOD, "locale")
        assert snapshot is not None and snapshot.report.overall.members.total == 0

        unmigrated = f"sqlite:///{tmp_path / 'empty.db'}"
        jobs.start(unmigrated, RULES, PERIOD, None)
        failed = finished(jobs, PERIOD, None)
        assert failed.error is not None and "no such table" in failed.error
        assert jobs.state(PERIOD, "locale").error is None  # another period's job is not touched
    finally:
        jobs.shutdown()
