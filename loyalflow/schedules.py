"""Temporal Schedules for time-based triggers, created or updated from configuration at start-up."""

import logging

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from loyalflow.config import Settings
from loyalflow.loyalty import LoyaltyRules
from loyalflow.models.workflow_io import SweepInput
from loyalflow.workflows.segment_sweep import SegmentSweepWorkflow

log = logging.getLogger(__name__)
INACTIVITY_SCHEDULE_ID = "loyalflow-inactivity-sweep"


def inactivity_schedule(settings: Settings, rules: LoyaltyRules) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SegmentSweepWorkflow.run,
            SweepInput(buckets_days=list(rules.inactivity.buckets_days)),
            id="segment-sweep-inactivity",
            task_queue=settings.temporal_task_queue,
        ),
        spec=ScheduleSpec(cron_expressions=[rules.inactivity.sweep_cron]),
        # A sweep still running when the next is due: skip the next, never run two at once.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_schedules(client: Client, settings: Settings, rules: LoyaltyRules) -> None:
    """Idempotent: every worker calls it; the schedule follows the current configuration."""
    schedule = inactivity_schedule(settings, rules)
    try:
        await client.create_schedule(INACTIVITY_SCHEDULE_ID, schedule)
        log.info("created schedule %s (%s)", INACTIVITY_SCHEDULE_ID, rules.inactivity.sweep_cron)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(INACTIVITY_SCHEDULE_ID).update(replace)
