"""DailyRollupWorkflow: the daily rollup's schedule starts it shortly after midnight UTC. One
activity plans the days (yesterday, the days missed, the recent days that settle), then one
activity per day; each day is idempotent, so a retried or repeated run changes nothing. Last, one
activity stores the console dashboard's KPI snapshots for its preset periods (they end with
yesterday, the day just rolled up)."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from loyalflow.models.rollup_io import (
        KpiSnapshotRequest,
        KpiSnapshotResult,
        RollupDayRequest,
        RollupDayResult,
        RollupInput,
        RollupPlan,
        RollupPlanRequest,
        RollupResult,
    )

DAY_TIMEOUT = timedelta(minutes=30)  # one day of a large program: seconds to minutes
SNAPSHOTS_TIMEOUT = timedelta(minutes=30)  # three KPI reports: seconds each at 1M members
# Runs started before the snapshots existed replay without them.
SNAPSHOTS_PATCH = "kpi-snapshots"
RETRY = RetryPolicy(initial_interval=timedelta(seconds=10), maximum_interval=timedelta(minutes=5))


@workflow.defn
class DailyRollupWorkflow:
    @workflow.run
    async def run(self, input: RollupInput) -> RollupResult:
        as_of = input.as_of or workflow.now()
        days = input.days
        if days is None:
            plan = await workflow.execute_activity(
                "plan_rollup_days",
                RollupPlanRequest(
                    today=as_of.date(),
                    settle_days=input.settle_days,
                    max_catch_up_days=input.max_catch_up_days,
                ),
                result_type=RollupPlan,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=RETRY,
            )
            days = plan.days
        rolled, rows = list(input.rolled), input.rows
        for done, day in enumerate(days, start=1):
            result = await workflow.execute_activity(
                "rollup_one_day",
                RollupDayRequest(day=day),
                result_type=RollupDayResult,
                start_to_close_timeout=DAY_TIMEOUT,
                retry_policy=RETRY,
            )
            rolled.append(result.day)
            rows += result.rows
            if done < len(days) and workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    input.model_copy(
                        update={"as_of": as_of, "days": days[done:], "rolled": rolled, "rows": rows}
                    )
                )
        if workflow.patched(SNAPSHOTS_PATCH):
            await workflow.execute_activity(
                "refresh_kpi_snapshots",
                KpiSnapshotRequest(today=as_of.date()),
                result_type=KpiSnapshotResult,
                start_to_close_timeout=SNAPSHOTS_TIMEOUT,
                retry_policy=RETRY,
            )
        return RollupResult(days=rolled, rows=rows)
