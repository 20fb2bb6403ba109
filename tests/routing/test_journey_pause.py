"""Pausing a journey's entries, through the real router, segment sweep and Temporal test server:
while paused, a trigger starts nothing; runs in flight go on; resumed, triggers start runs again.
Every change is audited; `loyalflow journeys pause|resume` is audited as `cli`."""

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from loyalflow.cli.app import app
from loyalflow.config import Settings, get_settings
from loyalflow.console.journey_pauses import UnknownJourney, change_pause
from loyalflow.models.console_tables import AuditEntry
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Enrollment, Member
from loyalflow.models.workflow_io import SweepInput
from loyalflow.routing.pauses import paused_journey
from loyalflow.workflows.segment_sweep import SegmentSweepWorkflow
from tests.conftest import unique_member_id
from tests.journey_helpers import (
    create_member,
    enrollment,
    send_event,
    wait_for_timer,
)
from tests.workflows.journey_kit import journey_worker, with_journeys


def waiting_journey(journey_id: str) -> str:
    return f"""
id: {journey_id}
name: pause test
trigger: {{event: visit}}
re_entry: always
topic: loyalty
steps:
  - {{id: until_purchase, kind: wait_for, event: purchase, timeout: 14d, on_event: thank,
     on_timeout: nudge}}
  - {{id: thank, kind: update, add_tag: bought, next: end}}
  - {{id: nudge, kind: update, add_tag: nudged}}
"""


def segment_journey(journey_id: str, cohort: str) -> str:
    return f"""
id: {journey_id}
name: paused segment test
trigger:
  segment: member.attributes.cohort == '{cohort}'
topic: loyalty
steps:
  - {{id: until_purchase, kind: wait_for, event: purchase, timeout: 14d, on_event: thank,
     on_timeout: nudge}}
  - {{id: thank, kind: update, add_tag: bought, next: end}}
  - {{id: nudge, kind: update, add_tag: nudged}}
"""


def audit_actions(settings: Settings, journey_id: str) -> list[tuple[str, str]]:
    with session_scope(settings.effective_database_url) as session:
        rows = session.exec(
            select(AuditEntry.actor, AuditEntry.action)
            .where(AuditEntry.target == f"journey:{journey_id}")
            .order_by(col(AuditEntry.id))
        )
        return [(actor, action) for actor, action in rows]


async def final_status(
    handle: WorkflowHandle[Any, Any], within: float = 30
) -> WorkflowExecutionStatus | None:
    """The run's status once it is no longer running (the worker finishing its last task)."""
    deadline = time.monotonic() + within
    status = (await handle.describe()).status
    while status == WorkflowExecutionStatus.RUNNING and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        status = (await handle.describe()).status
    return status


async def finish(env: WorkflowEnvironment, settings: Settings, runs: list[Enrollment]) -> None:
    """Each run's member buys: the run takes its event branch and ends by itself. (No skipped
    time, no termination: either can leave the shared time-skipping server stuck for the next
    test.)"""
    for run in runs:
        await send_event(env.client, settings, run.member_id, "purchase")
        handle = env.client.get_workflow_handle(run.workflow_id)
        assert await final_status(handle) == WorkflowExecutionStatus.COMPLETED


def runs_of(settings: Settings, journey_id: str) -> list[Enrollment]:
    with session_scope(settings.effective_database_url) as session:
        return list(session.exec(select(Enrollment).where(Enrollment.journey_id == journey_id)))


async def test_a_paused_journey_starts_nothing_and_its_runs_in_flight_go_on(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    journey_id = f"pause_{uuid.uuid4().hex[:8]}"
    settings = with_journeys(settings, tmp_path / "j", waiting_journey(journey_id))
    client = time_skipping_env.client
    early, late = unique_member_id("P"), unique_member_id("P")
    create_member(settings, early)
    create_member(settings, late)
    in_flight = f"journey-{journey_id}-{early}"
    async with journey_worker(client, settings):
        await send_event(client, settings, early, "visit")
        await wait_for_timer(client, in_flight)

        assert change_pause(settings, journey_id, True, "marketer-ann")
        assert not change_pause(settings, journey_id, True, "marketer-ann")  # already paused
        await send_event(client, settings, late, "visit")
        assert enrollment(settings, f"journey-{journey_id}-{late}") is None
        assert [r.member_id for r in runs_of(settings, journey_id)] == [early]

        # The run that entered before the pause goes on: the member's purchase still reaches
        # it, and it takes its event branch to its end.
        handle = client.get_workflow_handle(in_flight)
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        [early_run] = runs_of(settings, journey_id)
        await finish(time_skipping_env, settings, [early_run])
        ended = enrollment(settings, in_flight)
        assert ended is not None and ended.exited_at is not None

        assert change_pause(settings, journey_id, False, "marketer-ann")
        await send_event(client, settings, late, "visit")
        started = enrollment(settings, f"journey-{journey_id}-{late}")
        assert started is not None and started.entry == 1
        await finish(time_skipping_env, settings, [started])

    assert audit_actions(settings, journey_id) == [
        ("marketer-ann", "journey.pause"),
        ("marketer-ann", "journey.resume"),
    ]


async def test_a_paused_segment_journey_sweeps_nobody_in(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    cohort = uuid.uuid4().hex[:8]  # the shared database holds other tests' members
    journey_id = f"pseg_{cohort}"
    settings = with_journeys(settings, tmp_path / "j", segment_journey(journey_id, cohort))
    client = time_skipping_env.client
    now = await time_skipping_env.get_current_time()
    members = [f"PS-{cohort}-{n}" for n in range(3)]
    with session_scope(settings.effective_database_url) as session:
        session.add_all(Member(id=m, attributes={"cohort": cohort}) for m in members)

    async def sweep(day: int) -> int:
        result = await client.execute_workflow(
            SegmentSweepWorkflow.run,
            SweepInput(journey_id=journey_id, as_of=now + timedelta(days=day), page_size=2),
            id=f"sweep-{uuid.uuid4()}",
            task_queue=settings.temporal_task_queue,
        )
        return result.emitted

    async with journey_worker(client, settings):
        change_pause(settings, journey_id, True, "cli")
        assert await sweep(0) == 0
        assert runs_of(settings, journey_id) == []
        change_pause(settings, journey_id, False, "cli")
        assert await sweep(1) == len(members)
        await finish(time_skipping_env, settings, runs_of(settings, journey_id))
    assert sorted(r.member_id for r in runs_of(settings, journey_id)) == members


def test_pausing_an_unknown_journey_is_refused(settings: Settings) -> None:
    with pytest.raises(UnknownJourney):
        change_pause(settings, "no_such_journey", True, "cli")


@pytest.fixture
def cli_settings(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    journey_id = f"pcli_{uuid.uuid4().hex[:8]}"
    chosen = with_journeys(settings, tmp_path / "j", waiting_journey(journey_id))
    monkeypatch.setenv("LOYALFLOW_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LOYALFLOW_HOME", str(settings.home))
    monkeypatch.setenv("LOYALFLOW_JOURNEYS_DIR", str(chosen.journeys_dir))
    get_settings.cache_clear()
    yield chosen
    get_settings.cache_clear()


def test_journeys_pause_and_resume_on_the_command_line_are_audited_as_cli(
    cli_settings: Settings,
) -> None:
    (journey_id,) = [p.stem for p in cli_settings.journeys_dir.glob("*.yaml")]
    url = cli_settings.effective_database_url
    cli = CliRunner()
    paused = cli.invoke(app, ["journeys", "pause", journey_id])
    assert paused.exit_code == 0, paused.output
    assert f"{journey_id} paused" in paused.output
    assert paused_journey(url, journey_id)
    again = cli.invoke(app, ["journeys", "pause", journey_id])
    assert again.exit_code == 0 and "was already paused" in again.output
    resumed = cli.invoke(app, ["journeys", "resume", journey_id])
    assert resumed.exit_code == 0 and f"{journey_id} resumed" in resumed.output
    assert not paused_journey(url, journey_id)
    unknown = cli.invoke(app, ["journeys", "pause", "no_such_journey"])
    assert unknown.exit_code == 1 and "no journey 'no_such_journey'" in unknown.output
    assert audit_actions(cli_settings, journey_id) == [
        ("cli", "journey.pause"),
        ("cli", "journey.resume"),
    ]
