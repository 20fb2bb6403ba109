"""The daily rollup's activities: which days to roll up, and one day's rollup (SQL, in a
thread so the worker's event loop stays free)."""

import asyncio

from temporalio import activity

from loyalflow.analytics.rollup import days_to_roll, rollup_day
from loyalflow.config import Settings
from loyalflow.models.rollup_io import (
    RollupDayRequest,
    RollupDayResult,
    RollupPlan,
    RollupPlanRequest,
)


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
