"""The birthday journey in skipped time: bonus points and an email at 10:00 local, each year,
for members who join with a birthday; a join without one starts nothing."""

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.points_tables import PointsLedger
from loyalflow.models.tables import Enrollment, Member
from loyalflow.runtime.worker import build_worker
from tests.journey_helpers import (
    create_member,
    only_journeys,
    send_event,
    stop_running_journeys,
    wait_for_messages,
    wait_for_timer,
)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return only_journeys(settings, tmp_path / "journeys", "birthday")


@pytest.fixture
async def worker(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Worker]:
    async with build_worker(time_skipping_env.client, settings) as running:
        yield running
        await stop_running_journeys(time_skipping_env.client, settings)


async def test_bonus_and_email_on_the_birthday_at_ten_local_time(
    time_skipping_env: WorkflowEnvironment, settings: Settings, worker: Worker, member_id: str
) -> None:
    env = time_skipping_env
    zone = ZoneInfo("Asia/Tokyo")
    now = (await env.get_current_time()).astimezone(zone)
    birthday = (now + timedelta(days=3)).date().replace(year=1990)
    create_member(
        settings,
        member_id,
        email="ada@example.com",
        timezone="Asia/Tokyo",
        attributes={"birthday": birthday.isoformat()},
    )
    await send_event(env.client, settings, member_id, "member.joined")
    workflow_id = f"journey-birthday-{member_id}"
    await wait_for_timer(env.client, workflow_id)
    await env.sleep(timedelta(days=4))

    [sent] = await wait_for_messages(settings, member_id, 1)
    assert sent.template == "birthday"
    assert sent.sent_at is not None
    local = sent.sent_at.astimezone(zone)
    assert (local.date().month, local.date().day, local.hour) == (birthday.month, birthday.day, 10)
    with session_scope(settings.effective_database_url) as session:
        member = session.get(Member, member_id)
        bonus = session.exec(
            select(PointsLedger.kind, PointsLedger.points)
            .where(PointsLedger.member_id == member_id)
            .order_by(col(PointsLedger.id))
        ).all()
    assert member is not None and member.points == 100
    assert list(bonus) == [("bonus", 100)]


async def test_a_join_without_a_birthday_starts_nothing(
    time_skipping_env: WorkflowEnvironment, settings: Settings, worker: Worker, member_id: str
) -> None:
    env = time_skipping_env
    create_member(settings, member_id, email="bob@example.com", attributes={"vip": True})
    assert await send_event(env.client, settings, member_id, "member.joined")

    with session_scope(settings.effective_database_url) as session:
        entries = session.exec(select(Enrollment).where(Enrollment.member_id == member_id)).all()
    assert entries == []
    with pytest.raises(RPCError) as missing:
        await env.client.get_workflow_handle(f"journey-birthday-{member_id}").describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND
