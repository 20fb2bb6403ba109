"""Re-entry rules, idempotent routing and segment-triggered entries, through the real router."""

import uuid
from datetime import timedelta
from pathlib import Path

from sqlmodel import col, select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Enrollment, Event, Member
from loyalflow.models.workflow_io import ExitRequest, JourneyResult, SweepInput, SweepResult
from loyalflow.routing.router import route_events
from loyalflow.workflows.segment_sweep import SegmentSweepWorkflow
from tests.journey_helpers import create_member, enrollment, send_event, wait_for_timer
from tests.workflows.journey_kit import journey_worker, with_journeys


def waiting_journey(journey_id: str, re_entry: str) -> str:
    return f"""
id: {journey_id}
name: re-entry test
trigger: {{event: visit}}
re_entry: {re_entry}
topic: loyalty
steps:
  - {{id: a_month, kind: wait, duration: 30d}}
"""


def entries(settings: Settings, journey_id: str, member_id: str) -> list[Enrollment]:
    with session_scope(settings.effective_database_url) as session:
        return list(
            session.exec(
                select(Enrollment)
                .where(Enrollment.journey_id == journey_id, Enrollment.member_id == member_id)
                .order_by(col(Enrollment.entry))
            )
        )


async def status(env: WorkflowEnvironment, workflow_id: str) -> WorkflowExecutionStatus | None:
    return (await env.client.get_workflow_handle(workflow_id).describe()).status


async def exit_now(env: WorkflowEnvironment, workflow_id: str) -> None:
    """Ends a journey the way support staff would. (Terminating a journey that received a signal
    while it waited leaves the time-skipping test server unwilling to skip time afterwards.)"""
    handle = env.client.get_workflow_handle(workflow_id, result_type=JourneyResult)
    await handle.execute_update("exit", ExitRequest(reason="test over", by="test"))
    await handle.result()


async def test_never_a_second_trigger_starts_nothing(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, member_id: str
) -> None:
    settings = with_journeys(settings, tmp_path / "j", waiting_journey("r_never", "never"))
    create_member(settings, member_id)
    client = time_skipping_env.client
    async with journey_worker(client, settings):
        await send_event(client, settings, member_id, "visit")
        await wait_for_timer(client, f"journey-r_never-{member_id}")
        await client.get_workflow_handle(f"journey-r_never-{member_id}").execute_update(
            "exit", ExitRequest(reason="done", by="test")
        )
        await send_event(client, settings, member_id, "visit")  # after the exit, still never
        assert [e.entry for e in entries(settings, "r_never", member_id)] == [1]


async def test_after_exit_is_blocked_while_running_and_inside_the_cooldown(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, member_id: str
) -> None:
    journey = waiting_journey("r_after", "{policy: after_exit, cooldown: 5d}")
    settings = with_journeys(settings, tmp_path / "j", journey)
    create_member(settings, member_id)
    client = time_skipping_env.client
    first = f"journey-r_after-{member_id}"
    async with journey_worker(client, settings):
        await send_event(client, settings, member_id, "visit")
        await wait_for_timer(client, first)
        await send_event(client, settings, member_id, "visit")  # still running: blocked
        assert len(entries(settings, "r_after", member_id)) == 1

        handle = client.get_workflow_handle(first, result_type=JourneyResult)
        await handle.execute_update("exit", ExitRequest(reason="stop", by="test"))
        await handle.result()
        [row] = entries(settings, "r_after", member_id)
        assert row.exited_at is not None
        # Event times, as the router compares them with the exit (workflow time).
        await send_event(
            client, settings, member_id, "visit", occurred_at=row.exited_at + timedelta(days=4)
        )
        assert len(entries(settings, "r_after", member_id)) == 1  # inside the 5-day cooldown
        await send_event(
            client, settings, member_id, "visit", occurred_at=row.exited_at + timedelta(days=6)
        )
        assert [e.entry for e in entries(settings, "r_after", member_id)] == [1, 2]
        assert await status(time_skipping_env, f"{first}#2") == WorkflowExecutionStatus.RUNNING
        await exit_now(time_skipping_env, f"{first}#2")


async def test_always_runs_two_entries_side_by_side(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, member_id: str
) -> None:
    settings = with_journeys(settings, tmp_path / "j", waiting_journey("r_always", "always"))
    create_member(settings, member_id)
    client = time_skipping_env.client
    async with journey_worker(client, settings):
        await send_event(client, settings, member_id, "visit")
        await send_event(client, settings, member_id, "visit")
        ids = [e.workflow_id for e in entries(settings, "r_always", member_id)]
        assert ids == [f"journey-r_always-{member_id}", f"journey-r_always-{member_id}#2"]
        for workflow_id in ids:
            assert await status(time_skipping_env, workflow_id) == WorkflowExecutionStatus.RUNNING
        for workflow_id in ids:
            await exit_now(time_skipping_env, workflow_id)


async def test_the_same_trigger_routed_twice_starts_one_entry(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, member_id: str
) -> None:
    settings = with_journeys(settings, tmp_path / "j", waiting_journey("r_idem", "always"))
    create_member(settings, member_id)
    client = time_skipping_env.client
    event_id = f"{member_id}-visit"
    async with journey_worker(client, settings):
        await send_event(client, settings, member_id, "visit", event_id=event_id)
        with session_scope(settings.effective_database_url) as session:
            event = session.get(Event, event_id)
            assert event is not None
            session.expunge(event)
        # The re-router repeats an interrupted routing: even with `always`, one entry per event.
        assert await route_events(client, settings, [event])
        assert await route_events(client, settings, [event])
        assert [e.entry for e in entries(settings, "r_idem", member_id)] == [1]

        handle = client.get_workflow_handle(
            f"journey-r_idem-{member_id}", result_type=JourneyResult
        )
        await handle.execute_update("exit", ExitRequest(reason="stop", by="test"))
        await handle.result()
        assert await route_events(client, settings, [event])  # a finished entry is not restarted
        assert [e.entry for e in entries(settings, "r_idem", member_id)] == [1]
        history = [e async for e in handle.fetch_history_events()]
        assert history[-1].HasField("workflow_execution_completed_event_attributes")


# --- segment-triggered journeys ----------------------------------------------------------------


def segment_journey(cohort: str) -> str:
    return f"""
id: r_segment
name: segment test
trigger:
  segment: days_since(member.last_activity_at) >= 90 and member.attributes.cohort == '{cohort}'
topic: loyalty
steps:
  - {{id: a_month, kind: wait, duration: 30d}}
"""


async def test_a_segment_sweep_starts_the_journey_once_per_matching_member(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    cohort = uuid.uuid4().hex[:8]  # the shared database holds other tests' idle members
    settings = with_journeys(settings, tmp_path / "j", segment_journey(cohort))
    client = time_skipping_env.client
    now = await time_skipping_env.get_current_time()
    idle = {f"S-{cohort}-{n}": days for n, days in enumerate([120, 95, 60, 10, 400])}
    with session_scope(settings.effective_database_url) as session:
        session.add_all(
            Member(
                id=member_id,
                last_activity_at=now - timedelta(days=days, hours=1),
                attributes={"cohort": cohort},
            )
            for member_id, days in idle.items()
        )
    expected = sorted(m for m, days in idle.items() if days >= 90)

    async def sweep(as_of_days: int) -> SweepResult:
        return await client.execute_workflow(
            SegmentSweepWorkflow.run,
            SweepInput(journey_id="r_segment", as_of=now + timedelta(days=as_of_days), page_size=2),
            id=f"sweep-{uuid.uuid4()}",
            task_queue=settings.temporal_task_queue,
        )

    async with journey_worker(client, settings):
        first = await sweep(0)
        second = await sweep(1)  # the next day: a new trigger id, but re_entry is `never`
        with session_scope(settings.effective_database_url) as session:
            rows = list(
                session.exec(select(Enrollment).where(Enrollment.journey_id == "r_segment"))
            )

    assert first.emitted == len(expected) and second.emitted == 0
    assert sorted(r.member_id for r in rows) == expected
    assert all(r.entry == 1 for r in rows)
    row = enrollment(settings, f"journey-r_segment-{expected[0]}")
    assert row is not None and (row.trigger_event_id or "").startswith("segment/r_segment/")
