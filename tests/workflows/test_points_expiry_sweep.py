"""The points expiry sweep in skipped time: reminders before, expiry on the day, once each."""

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, func, select
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.catalog.loader import Catalog
from loyalflow.config import Settings
from loyalflow.members.ingest import store_events
from loyalflow.models.api import EventIn
from loyalflow.models.db import session_scope
from loyalflow.models.points_tables import PointsLedger
from loyalflow.models.tables import Event, Member
from loyalflow.models.workflow_io import SweepInput, SweepResult
from loyalflow.routing.schedules import (
    POINTS_EXPIRY_SCHEDULE_ID,
    REQUALIFICATION_SCHEDULE_ID,
    wanted_schedules,
)
from loyalflow.rules.loyalty import (
    LoyaltyRules,
    Requalification,
    TierLadder,
    TierLevel,
    rules_from,
)
from loyalflow.rules.points_expiry import PointsExpiry, add_months
from loyalflow.runtime.worker import build_worker
from loyalflow.workflows.segment_sweep import SegmentSweepWorkflow
from tests.journey_helpers import only_journeys

LADDER = TierLadder(levels=(TierLevel(name="Bronze", threshold=0),))
RULES = LoyaltyRules(tiers=LADDER, points_expiry=PointsExpiry(policy="per_lot", months=2))


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return only_journeys(settings, tmp_path / "journeys")  # no journey: the events are the test


@pytest.fixture
async def worker(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Worker]:
    async with build_worker(time_skipping_env.client, settings) as running:
        yield running


def purchase(member_id: str, n: int, at: datetime, amount: int) -> EventIn:
    return EventIn(
        event_id=f"{member_id}/{n}",
        member_id=member_id,
        type="purchase" if n else "member.joined",
        occurred_at=at,
        properties={"amount": amount} if n else {},
    )


async def sweep_twice(env: WorkflowEnvironment, settings: Settings) -> list[SweepResult]:
    """The daily run and a repeat of it (a retry, a second worker): the repeat changes nothing."""
    results = []
    for _ in range(2):
        # Time moves only where the test sleeps: the sweep reads the clock (workflow.now).
        with env.auto_time_skipping_disabled():
            result = await env.client.execute_workflow(
                SegmentSweepWorkflow.run,
                SweepInput(buckets_days=[30, 7], points_expiry=True, page_size=1),
                id=f"points-expiry-{uuid.uuid4()}",
                task_queue=settings.temporal_task_queue,
            )
        results.append(result)
    return results


def points_events(settings: Settings, member_id: str) -> list[tuple[str, dict[str, object]]]:
    with session_scope(settings.effective_database_url) as session:
        rows = session.exec(
            select(Event)
            .where(Event.member_id == member_id, col(Event.type).startswith("points."))
            .order_by(col(Event.occurred_at), col(Event.event_id))
        )
        return [(e.type, e.properties) for e in rows]


async def test_reminders_then_expiry_each_once_in_skipped_time(
    time_skipping_env: WorkflowEnvironment, settings: Settings, worker: Worker
) -> None:
    env, url = time_skipping_env, settings.effective_database_url
    start = await env.get_current_time()
    member_id, other = f"X-{uuid.uuid4().hex[:8]}", f"Y-{uuid.uuid4().hex[:8]}"
    first_expiry = add_months(start, 2)
    second_expiry = add_months(start + timedelta(days=20), 2)
    store_events(
        url,
        [
            purchase(member_id, 0, start, 0),
            purchase(member_id, 1, start, 100),
            purchase(member_id, 2, start + timedelta(days=20), 50),
            purchase(other, 0, start, 0),
            purchase(other, 1, start, 10),
        ],
        RULES,
        BUILT_IN_ONLY,
    )

    await env.sleep(timedelta(days=35))  # the first lot is due in 24 to 27 days
    await sweep_twice(env, settings)
    assert points_events(settings, member_id) == [
        ("points.expiring", {"amount": 100, "expires_at": first_expiry.isoformat(), "days": 30}),
    ]
    await env.sleep(timedelta(days=21))  # first lot due in 3 to 6 days, the second in 23 to 26
    await sweep_twice(env, settings)
    assert sorted(points_events(settings, member_id)[1:], key=str) == [
        ("points.expiring", {"amount": 100, "expires_at": first_expiry.isoformat(), "days": 7}),
        ("points.expiring", {"amount": 50, "expires_at": second_expiry.isoformat(), "days": 30}),
    ]

    await env.sleep(timedelta(days=7))  # the first lot is past due
    first, repeat = await sweep_twice(env, settings)

    assert points_events(settings, member_id)[3:] == [
        ("points.expired", {"amount": 100, "lots": 1, "balance": 50})
    ]
    assert points_events(settings, other)[-1] == (
        "points.expired",
        {"amount": 10, "lots": 1, "balance": 0},
    )
    assert first.emitted >= 2 and repeat.emitted == 0
    with session_scope(url) as session:
        member = session.get(Member, member_id)
        assert member is not None and member.points == 50
        ledger = session.exec(
            select(func.sum(PointsLedger.points)).where(PointsLedger.member_id == member_id)
        ).one()
        kinds = session.exec(
            select(PointsLedger.kind, PointsLedger.points)
            .where(PointsLedger.member_id == member_id)
            .order_by(col(PointsLedger.id))
        ).all()
    assert ledger == 50
    assert list(kinds) == [("earned", 100), ("earned", 50), ("expired", -100)]


def test_the_schedule_exists_only_when_points_can_expire(settings: Settings) -> None:
    never = RULES.model_copy(update={"points_expiry": PointsExpiry()})
    assert POINTS_EXPIRY_SCHEDULE_ID not in wanted_schedules(settings, never, Catalog({}))
    schedule = wanted_schedules(settings, RULES, Catalog({}))[POINTS_EXPIRY_SCHEDULE_ID]
    assert isinstance(schedule.action, ScheduleActionStartWorkflow)
    assert schedule.action.workflow == "SegmentSweepWorkflow"
    assert schedule.spec.cron_expressions == ["30 3 * * *"]
    requalifying = RULES.model_copy(
        update={
            "tiers": TierLadder(
                basis="points_earned_12m", levels=LADDER.levels, requalification=Requalification()
            )
        }
    )
    wanted = wanted_schedules(settings, requalifying, Catalog({}))
    assert wanted[REQUALIFICATION_SCHEDULE_ID].spec.cron_expressions == ["0 4 * * *"]
    assert REQUALIFICATION_SCHEDULE_ID not in wanted_schedules(settings, RULES, Catalog({}))


async def test_the_requalification_sweep_downgrades_through_temporal(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    env = time_skipping_env
    now = await env.get_current_time()
    yesterday = now - timedelta(days=1)  # the requalification date: applied within 7 days
    rules_file = tmp_path / "loyalty.yaml"
    rules_file.write_text(
        "tiers:\n  basis: points_earned_12m\n"
        f'  requalification: {{when: fixed_date, date: "{yesterday:%m-%d}"}}\n'
        "  levels: [{name: Bronze, threshold: 0}, {name: Silver, threshold: 500}]\n"
    )
    settings = settings.model_copy(update={"loyalty_rules_file": rules_file})
    rules = rules_from(rules_file)
    member_id = f"RQ-{uuid.uuid4().hex[:8]}"
    long_ago = now - timedelta(days=800)
    store_events(
        settings.effective_database_url,
        [
            purchase(member_id, 0, long_ago, 0),
            purchase(member_id, 1, now - timedelta(days=500), 600),
        ],
        rules,
        BUILT_IN_ONLY,
    )
    async with build_worker(env.client, settings):
        with env.auto_time_skipping_disabled():
            await env.client.execute_workflow(
                SegmentSweepWorkflow.run,
                SweepInput(requalification=True),
                id=f"requalify-{uuid.uuid4()}",
                task_queue=settings.temporal_task_queue,
            )
    with session_scope(settings.effective_database_url) as session:
        member = session.get(Member, member_id)
        assert member is not None and member.tier == "Bronze"
    assert points_events(settings, member_id) == []
    with session_scope(settings.effective_database_url) as session:
        downgrade = session.exec(
            select(Event).where(Event.member_id == member_id, Event.type == "tier.downgraded")
        ).one()
    assert downgrade.properties == {
        "from": "Silver",
        "to": "Bronze",
        "requalification": f"{yesterday.year}-{yesterday:%m-%d}",
    }
