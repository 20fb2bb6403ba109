"""The daily rollup's activities: which days to roll up, one day's rollup, and then the
dashboard's KPI snapshots for its preset periods (SQL, in a thread so the worker's event loop
stays free)."""

import asyncio

from temporalio import activity

from loyalflow.analytics.rollup import days_to_roll, rollup_day
from loyalflow.analytics.snapshots import refresh_presets
from loyalflow.config import Settings
from loyalflow.models.rollup_io import (
    KpiSnapshotRequest,
    KpiSnapshotResult,
    RollupDayRequest,
    RollupDayResult,
    RollupPlan,
    RollupPlanRequest,
)
from loyalflow.rules.loyalty import rules_from


class RollupActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn(name="plan_rollup_days")
    async def plan_rollup_days(self, request: RollupPlanRequest) -> RollupPlan:
        days = await asyncio.to_thread(
            days_to_roll,
            self.settings.effective_database_url,
            request.today,
            settle_days=request.settle_days,
            max_catch_up_days=request.max_catch_up_days,
        )
        return RollupPlan(days=days)

    @activity.defn(name="rollup_one_day")
    async def rollup_one_day(self, request: RollupDayRequest) -> RollupDayResult:
        done = await asyncio.to_thread(
            rollup_day, self.settings.effective_database_url, request.day
        )
        activity.logger.info("rolled up %s: %d rows", done.day, done.rows)
        return RollupDayResult(day=done.day, rows=done.rows)

    @activity.defn(name="refresh_kpi_snapshots")
    async def refresh_kpi_snapshots(self, request: KpiSnapshotRequest) -> KpiSnapshotResult:
        rules = rules_from(self.settings.loyalty_rules_file)
        stored = await asyncio.to_thread(
            refresh_presets, self.settings.effective_database_url, rules, request.today
        )
        activity.logger.info("stored %d KPI snapshots as of %s", len(stored), request.today)
        return KpiSnapshotResult(periods=len(stored))
