"""The inactivity sweep: derived `member.inactive` events, once per bucket, starting journeys once."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, func, select
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from loyalflow.catalog.loader import Catalog
from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Enrollment, Event, Member
from loyalflow.models.workflow_io import SweepInput, SweepResult
from loyalflow.routing.schedules import (
    INACTIVITY_SCHEDULE_ID,
    SEGMENT_SCHEDULE_PREFIX,
    ensure_schedules,
)
from loyalflow.rules.loyalty import LoyaltyRules, TierLadder, TierLevel
from loyalflow.runtime.worker import build_worker
from loyalflow.workflows.segment_sweep import SegmentSweepWorkflow

AS_OF = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
BUCKETS = [90, 180, 365]
WINBACK = """
id: winback
name: Win back
trigger: {event: member.inactive}
topic: loyalty
steps:
  - {id: wait_a_month, kind: wait, duration: 30d}
"""


def add_members(settings: Settings, idle_days: dict[str, int]) -> None:
    with session_scope(settings.effective_database_url) as session:
        session.add_all(
            Member(id=member_id, last_activity_at=AS_OF - timedelta(days=days, hours=1))
            for member_id, days in idle_days.items()
        )


def inactive_events(settings: Settings, members: list[str]) -> dict[str, list[int]]:
    with session_scope(settings.effective_database_url) as session:
        rows = session.exec(
            select(Event).where(Event.type == "member.inactive", col(Event.member_id).in_(members))
        )
        found: dict[str, list[int]] = {}
        for event in rows:
            found.setdefault(event.member_id, []).append(event.properties["days"])
        return found


async def sweep(client: Client, settings: Settings, page_size: int) -> SweepResult:
    return await client.execute_workflow(
        SegmentSweepWorkflow.run,
        SweepInput(buckets_days=BUCKETS, as_of=AS_OF, page_size=page_size),
        id=f"sweep-{uuid.uuid4()}",
        task_queue=settings.temporal_task_queue,
    )


@pytest.fixture
async def dev_worker(
    dev_server_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Worker]:
    async with build_worker(dev_server_env.client, settings) as worker:
        yield worker


async def test_each_member_gets_the_largest_bucket_it_crossed_once(
    dev_server_env: WorkflowEnvironment, settings: Settings, dev_worker: Worker
) -> None:
    prefix = uuid.uuid4().hex[:6]
    idle = {f"{prefix}-active": 10, f"{prefix}-q": 95, f"{prefix}-h": 200, f"{prefix}-y": 400}
    add_members(settings, idle)

    await sweep(dev_server_env.client, settings, page_size=2)
    again = await sweep(dev_server_env.client, settings, page_size=2)

    assert inactive_events(settings, list(idle)) == {
        f"{prefix}-q": [90],
        f"{prefix}-h": [180],
        f"{prefix}-y": [365],
    }
    assert again.emitted == 0 or not any(m.startswith(prefix) for m in idle)  # nothing new


async def test_a_member_active_again_starts_a_new_period(
    dev_server_env: WorkflowEnvironment, settings: Settings, dev_worker: Worker
) -> None:
    member_id = f"back-{uuid.uuid4().hex[:8]}"
    add_members(settings, {member_id: 120})
    await sweep(dev_server_env.client, settings, page_size=500)
    with session_scope(settings.effective_database_url) as session:
        member = session.get(Member, member_id)
        assert member is not None
        member.last_activity_at = AS_OF - timedelta(days=91)  # came back, then went quiet again
        session.add(member)
    await sweep(dev_server_env.client, settings, page_size=500)

    assert inactive_events(settings, [member_id]) == {member_id: [90, 90]}


async def test_a_sweep_over_5000_members_starts_each_eligible_journey_once(
    dev_server_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "winback.yaml").write_text(WINBACK)
    settings = settings.model_copy(update={"journeys_dir": journeys})
    prefix = uuid.uuid4().hex[:6]
    idle = {f"{prefix}-{n:05d}": (100 if n % 5 == 0 else 20) for n in range(5000)}
    add_members(settings, idle)
    eligible = sorted(m for m, days in idle.items() if days >= 90)

    async with build_worker(dev_server_env.client, settings):
        first = await sweep(dev_server_env.client, settings, page_size=500)
        second = await sweep(dev_server_env.client, settings, page_size=500)

    assert first.emitted >= len(eligible) and second.emitted == 0
    with session_scope(settings.effective_database_url) as session:
        enrolled = session.exec(
            select(Enrollment.member_id).where(
                Enrollment.journey_id == "winback", col(Enrollment.member_id).startswith(prefix)
            )
        ).all()
        events = session.exec(
            select(func.count()).where(
                Event.type == "member.inactive", col(Event.member_id).startswith(prefix)
            )
        ).one()
    assert sorted(enrolled) == eligible  # each eligible member once, nobody else
    assert events == len(eligible)
    sample = dev_server_env.client.get_workflow_handle(f"journey-winback-{eligible[0]}")
    assert (await sample.describe()).run_id


async def test_the_schedule_follows_the_configuration(
    dev_server_env: WorkflowEnvironment, settings: Settings
) -> None:
    ladder = TierLadder(levels=(TierLevel(name="Member", threshold=0),))
    daily = LoyaltyRules(tiers=ladder)
    hourly = daily.model_copy(
        update={"inactivity": daily.inactivity.model_copy(update={"sweep_cron": "0 * * * *"})}
    )
    client = dev_server_env.client
    catalog = get_catalog(settings)  # the built-in journeys: reactivation sweeps a segment daily
    await ensure_schedules(client, settings, daily, catalog)
    # A second worker with new rules: an update.
    await ensure_schedules(client, settings, hourly, catalog)

    description = await client.get_schedule_handle(INACTIVITY_SCHEDULE_ID).describe()
    upcoming = description.info.next_action_times
    assert len(upcoming) >= 2 and upcoming[1] - upcoming[0] == timedelta(hours=1)
    assert all(t.minute == 0 for t in upcoming)
    action = description.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == "SegmentSweepWorkflow"

    segment = client.get_schedule_handle(SEGMENT_SCHEDULE_PREFIX + "reactivation")
    described = await segment.describe()
    assert all((t.hour, t.minute) == (3, 0) for t in described.info.next_action_times)
    sweep = described.schedule.action
    assert isinstance(sweep, ScheduleActionStartWorkflow)
    [argument] = await client.data_converter.decode(list(sweep.args))
    assert argument["journey_id"] == "reactivation"

    # The journey is gone from the definitions: its schedule goes too, the inactivity one stays.
    await ensure_schedules(client, settings, daily, Catalog({}))
    with pytest.raises(RPCError):
        await segment.describe()
    await client.get_schedule_handle(INACTIVITY_SCHEDULE_ID).delete()
