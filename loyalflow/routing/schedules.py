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

from loyalflow.catalog.loader import Catalog
from loyalflow.config import Settings
from loyalflow.models.journey import Journey
from loyalflow.models.rollup_io import RollupInput
from loyalflow.models.workflow_io import SweepInput
from loyalflow.rules.loyalty import LoyaltyRules
from loyalflow.workflows.daily_rollup import DailyRollupWorkflow
from loyalflow.workflows.segment_sweep import SegmentSweepWorkflow

log = logging.getLogger(__name__)
INACTIVITY_SCHEDULE_ID = "loyalflow-inactivity-sweep"
SEGMENT_SCHEDULE_PREFIX = "loyalflow-segment-"
POINTS_EXPIRY_SCHEDULE_ID = "loyalflow-points-expiry-sweep"
REQUALIFICATION_SCHEDULE_ID = "loyalflow-tier-requalification"
DAILY_ROLLUP_SCHEDULE_ID = "loyalflow-daily-rollup"
# Ten past midnight UTC: yesterday's late writes (a send finishing at 23:59) are in.
DAILY_ROLLUP_CRON = "10 0 * * *"


OPTIONAL_SCHEDULES = (POINTS_EXPIRY_SCHEDULE_ID, REQUALIFICATION_SCHEDULE_ID)


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


def points_expiry_schedule(settings: Settings, rules: LoyaltyRules) -> Schedule:
    expiry = rules.points_expiry
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SegmentSweepWorkflow.run,
            SweepInput(buckets_days=list(expiry.reminder_days), points_expiry=True),
            id="points-expiry-sweep",
            task_queue=settings.temporal_task_queue,
        ),
        spec=ScheduleSpec(cron_expressions=[expiry.sweep_cron]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


def requalification_schedule(settings: Settings, cron: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SegmentSweepWorkflow.run,
            SweepInput(requalification=True),
            id="tier-requalification-sweep",
            task_queue=settings.temporal_task_queue,
        ),
        spec=ScheduleSpec(cron_expressions=[cron]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


def daily_rollup_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DailyRollupWorkflow.run,
            RollupInput(),
            id="daily-rollup",
            task_queue=settings.temporal_task_queue,
        ),
        spec=ScheduleSpec(cron_expressions=[DAILY_ROLLUP_CRON]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


def segment_schedule(settings: Settings, journey: Journey) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SegmentSweepWorkflow.run,
            SweepInput(journey_id=journey.id),
            id=f"segment-sweep-{journey.id}",
            task_queue=settings.temporal_task_queue,
        ),
        spec=ScheduleSpec(cron_expressions=[journey.trigger.cron]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


def wanted_schedules(
    settings: Settings, rules: LoyaltyRules, catalog: Catalog
) -> dict[str, Schedule]:
    """Every schedule the configuration asks for: the inactivity sweep, the daily rollup, the
    points expiry sweep (unless points never expire), one per segment journey."""
    wanted = {
        INACTIVITY_SCHEDULE_ID: inactivity_schedule(settings, rules),
        DAILY_ROLLUP_SCHEDULE_ID: daily_rollup_schedule(settings),
    }
    if rules.points_expiry.policy != "never":
        wanted[POINTS_EXPIRY_SCHEDULE_ID] = points_expiry_schedule(settings, rules)
    if rules.tiers.requalification is not None:
        cron = rules.tiers.requalification.sweep_cron
        wanted[REQUALIFICATION_SCHEDULE_ID] = requalification_schedule(settings, cron)
    for journey in catalog.journeys.values():
        if journey.trigger.segment is not None:
            wanted[SEGMENT_SCHEDULE_PREFIX + journey.id] = segment_schedule(settings, journey)
    return wanted


async def ensure_schedules(
    client: Client, settings: Settings, rules: LoyaltyRules, catalog: Catalog
) -> None:
    """Idempotent: every worker calls it; schedules follow the current configuration, and the
    schedule of a journey that is gone or no longer segment-triggered is deleted."""
    wanted = wanted_schedules(settings, rules, catalog)
    for schedule_id, schedule in wanted.items():
        await _create_or_update(client, schedule_id, schedule)
    async for listed in await client.list_schedules():
        ours = (
            listed.id.startswith(SEGMENT_SCHEDULE_PREFIX) or listed.id == POINTS_EXPIRY_SCHEDULE_ID
        )
        if ours and listed.id not in wanted:
            await client.get_schedule_handle(listed.id).delete()
            log.info("deleted schedule %s: the configuration no longer asks for it", listed.id)


async def _create_or_update(client: Client, schedule_id: str, schedule: Schedule) -> None:
    try:
        await client.create_schedule(schedule_id, schedule)
        log.info("created schedule %s", schedule_id)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(replace)
