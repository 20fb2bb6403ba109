"""Helpers for driving journeys the way the API does: store events, route them, read the ledger."""

import asyncio
import contextlib
import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from temporalio.api.enums.v1 import EventType
from temporalio.api.testservice.v1 import LockTimeSkippingRequest, UnlockTimeSkippingRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from loyalflow.catalog.event_types import event_types_from
from loyalflow.config import Settings
from loyalflow.members.ingest import store_events, upsert_member
from loyalflow.models.api import EventIn, MemberIn
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Enrollment, Message
from loyalflow.models.workflow_io import JourneyResult
from loyalflow.routing.router import route_events
from loyalflow.rules.loyalty import rules_from


def create_member(settings: Settings, member_id: str, **fields: Any) -> None:
    upsert_member(settings.effective_database_url, member_id, MemberIn.model_validate(fields))


async def send_event(
    client: Client,
    settings: Settings,
    member_id: str,
    type: str,
    *,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
    **properties: Any,
) -> bool:
    """Ingests one event exactly as POST /events does; True if it was new."""
    incoming = EventIn(
        event_id=event_id or str(uuid.uuid4()),
        member_id=member_id,
        type=type,
        occurred_at=occurred_at or datetime.now(UTC),
        properties=properties,
    )
    stored = store_events(
        settings.effective_database_url,
        [incoming],
        rules_from(settings.loyalty_rules_file),
        event_types_from(settings.events_file),
    )
    new = [s.event for s in stored if not s.duplicate]
    assert await route_events(client, settings, new)
    return bool(new)


def messages(settings: Settings, member_id: str) -> list[Message]:
    with session_scope(settings.effective_database_url) as session:
        rows = session.exec(
            select(Message).where(Message.member_id == member_id).order_by(col(Message.created_at))
        )
        return list(rows)


def enrollment(settings: Settings, workflow_id: str) -> Enrollment | None:
    with session_scope(settings.effective_database_url) as session:
        return session.get(Enrollment, workflow_id)


async def wait_for_messages(
    settings: Settings, member_id: str, count: int, within: float = 30
) -> list[Message]:
    """Polls the ledger in real time (this does not advance the time-skipping clock)."""
    deadline = time.monotonic() + within
    while True:
        rows = [m for m in messages(settings, member_id) if m.status == "sent"]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.1)


async def journey_result(env: WorkflowEnvironment, workflow_id: str) -> JourneyResult:
    """Waits for a journey started by routing, letting the test server skip its timers.

    Only handles returned by the test client's own start_workflow skip time on their own.
    """
    handle = env.client.get_workflow_handle(workflow_id, result_type=JourneyResult)
    test_service = env.client.test_service
    await test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
    try:
        result: JourneyResult = await handle.result()
    finally:
        await test_service.lock_time_skipping(LockTimeSkippingRequest())
    return result


async def wait_for_timer(client: Client, workflow_id: str, within: float = 30) -> None:
    """Returns once the journey's durable timer is in its history (it is truly waiting)."""
    deadline = time.monotonic() + within
    handle = client.get_workflow_handle(workflow_id)
    while time.monotonic() < deadline:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} did not start its wait within {within}s")


async def stop_running_journeys(client: Client, settings: Settings) -> None:
    """Terminates the journeys a test left running (found in the DB, as support staff would),
    so a monthly loop from one test never holds up the next test's skipped time."""
    with session_scope(settings.effective_database_url) as session:
        running = list(
            session.exec(select(Enrollment.workflow_id).where(col(Enrollment.exited_at).is_(None)))
        )
    for workflow_id in running:
        with contextlib.suppress(RPCError):  # finished meanwhile
            await client.get_workflow_handle(workflow_id).terminate("test over")


def only_journeys(settings: Settings, directory: Path, *journey_ids: str) -> Settings:
    """Settings whose catalog holds only the given built-in journeys: a test of one journey is
    not slowed or disturbed by the others its events would trigger."""
    directory.mkdir(parents=True, exist_ok=True)
    for journey_id in journey_ids:
        shutil.copy(settings.journeys_dir / f"{journey_id}.yaml", directory)
    return settings.model_copy(update={"journeys_dir": directory})


def zone_where_it_will_be(hour: int, at: datetime) -> str:
    """A fixed-offset IANA zone in which `at` falls in the given local hour."""
    offset = (hour - at.astimezone(UTC).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    # POSIX-style names: Etc/GMT-3 is three hours *ahead* of UTC.
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"
