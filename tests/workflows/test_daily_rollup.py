"""The daily rollup's schedule and workflow: in skipped time the schedule's own action rolls up
yesterday, then the next day, without counting anything twice; on the dev server the schedule
exists at 00:10 UTC and, triggered, runs the workflow through a real worker. Each run ends by
storing the dashboard's KPI snapshots."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from loyalflow.analytics.snapshots import PRESET_DAYS, preset_period, stored_snapshot
from loyalflow.catalog.loader import Catalog
from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.rollup_io import RollupResult
from loyalflow.models.rollup_tables import DailyRollup
from loyalflow.models.tables import Member, Message
from loyalflow.routing.schedules import DAILY_ROLLUP_SCHEDULE_ID, ensure_schedules, wanted_schedules
from loyalflow.rules.loyalty import LoyaltyRules, TierLadder, TierLevel
from loyalflow.runtime.worker import build_worker
from tests.journey_helpers import only_journeys

RULES = LoyaltyRules(tiers=TierLadder(levels=(TierLevel(name="Bronze", threshold=0),)))


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return only_journeys(settings, tmp_path / "journeys")


@pytest.fixture
async def worker(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Worker]:
    async with build_worker(time_skipping_env.client, settings) as running:
        yield running


def send(url: str, journey: str, at: datetime, *, opened: bool = False) -> None:
    member_id = f"R-{uuid.uuid4().hex[:8]}"
    with session_scope(url) as session:
        session.add(Member(id=member_id, joined_at=at))
        session.flush()
        session.add(
            Message(
                message_id=uuid.uuid4().hex,
                member_id=member_id,
                journey_id=journey,
                workflow_id=f"journey-{journey}-{member_id}",
                step_id="hello",
                channel="email",
                template="hello",
                status="sent",
                sent_at=at,
                first_opened_at=at + timedelta(minutes=1) if opened else None,
            )
        )


def journey_rows(url: str, journey: str) -> dict[date, tuple[int, int]]:
    with session_scope(url) as session:
        rows = session.exec(select(DailyRollup).where(col(DailyRollup.journey_id) == journey))
        return {row.day: (row.sends, row.opens) for row in rows}


async def run_the_schedules_action(client: Client, settings: Settings) -> RollupResult:
    action = wanted_schedules(settings, RULES, Catalog({}))[DAILY_ROLLUP_SCHEDULE_ID].action
    assert isinstance(action, ScheduleActionStartWorkflow)
    result: RollupResult = await client.execute_workflow(
        action.workflow,
        *action.args,
        id=f"daily-rollup-{uuid.uuid4()}",
        task_queue=action.task_queue or "",
        result_type=RollupResult,
    )
    return result


async def test_the_schedules_workflow_rolls_up_yesterday_then_the_next_day(
    time_skipping_env: WorkflowEnvironment, settings: Settings, worker: Worker
) -> None:
    env, url = time_skipping_env, settings.effective_database_url
    journey = f"rollup-{uuid.uuid4().hex[:8]}"
    now = await env.get_current_time()
    yesterday = (now - timedelta(days=1)).date()
    noon = datetime.combine(yesterday, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    send(url, journey, noon, opened=True)
    send(url, journey, noon + timedelta(hours=1))
    send(url, journey, now + timedelta(hours=30))  # after both runs' yesterday: never counted

    started = datetime.now(UTC)  # activities run on the wall clock
    with env.auto_time_skipping_disabled():
        first = await run_the_schedules_action(env.client, settings)
    assert yesterday in first.days
    assert journey_rows(url, journey) == {yesterday: (2, 1)}
    # Then it stored the console dashboard's presets, which end with the day it rolled up.
    for days in PRESET_DAYS:
        snapshot = stored_snapshot(url, preset_period(days, now.date()), None)
        assert snapshot is not None and snapshot.computed_at >= started

    # A day later (skipped time): today's figures join; yesterday's, re-rolled, stay as they were.
    send(url, journey, now, opened=True)
    await env.sleep(timedelta(days=1))
    with env.auto_time_skipping_disabled():
        second = await run_the_schedules_action(env.client, settings)
    assert now.date() in second.days and yesterday in second.days  # settling re-rolls it
    assert journey_rows(url, journey) == {yesterday: (2, 1), now.date(): (1, 1)}


async def test_the_schedule_runs_at_ten_past_midnight_utc_and_its_workflow_completes(
    dev_server_env: WorkflowEnvironment, settings: Settings
) -> None:
    client, url = dev_server_env.client, settings.effective_database_url
    journey = f"rollup-{uuid.uuid4().hex[:8]}"
    yesterday = datetime.now(UTC) - timedelta(days=1)
    send(url, journey, yesterday, opened=True)
    await ensure_schedules(client, settings, RULES, Catalog({}))
    handle = client.get_schedule_handle(DAILY_ROLLUP_SCHEDULE_ID)
    described = await handle.describe()
    assert all((t.hour, t.minute) == (0, 10) for t in described.info.next_action_times)
    assert all(t.utcoffset() == timedelta(0) for t in described.info.next_action_times)

    async with build_worker(client, settings):
        before = len(described.info.recent_actions)
        await handle.trigger()
        for _ in range(300):  # the schedule starts the workflow within a moment
            described = await handle.describe()
            if len(described.info.recent_actions) > before:
                break
            await asyncio.sleep(0.1)
        started = described.info.recent_actions[-1].action
        assert isinstance(started, ScheduleActionExecutionStartWorkflow)
        result = await client.get_workflow_handle(
            started.workflow_id, result_type=RollupResult
        ).result()
    assert yesterday.date() in result.days
    assert journey_rows(url, journey) == {yesterday.date(): (1, 1)}
