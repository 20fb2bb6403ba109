"""`runs list|show|exit|retry-send` on the dev server (visibility and search attributes are real)."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner, Result

from loyalflow.catalog.registry import get_catalog, publish_versions
from loyalflow.cli.app import app
from loyalflow.config import Settings, get_settings
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Message, SupportAction
from loyalflow.support.resend import retried, retry_send
from loyalflow.support.runs import (
    RunSummary,
    SupportError,
    exit_run,
    list_runs,
    show_run,
    visibility_query,
)
from loyalflow.support.timeline import build_timeline
from tests.conftest import unique_member_id
from tests.journey_helpers import (
    create_member,
    enrollment,
    messages,
    only_journeys,
    send_event,
    wait_for_timer,
)
from tests.smtp_server import SmtpServer
from tests.worker_helpers import worker_sending_to


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, dev_server_env: WorkflowEnvironment) -> Settings:
    chosen = only_journeys(settings, tmp_path / "journeys", "welcome")
    publish_versions(chosen.effective_database_url, get_catalog(chosen))
    address = dev_server_env.client.service_client.config.target_host
    return chosen.model_copy(update={"temporal_address": address})


@pytest.fixture
async def worker(
    dev_server_env: WorkflowEnvironment, settings: Settings, smtp_server: SmtpServer
) -> AsyncIterator[Worker]:
    async with worker_sending_to(dev_server_env.client, settings, smtp_server) as running:
        yield running


async def eventually(
    probe: Callable[[], Awaitable[list[RunSummary]]], count: int, within: float = 20
) -> list[RunSummary]:
    """Visibility is eventually consistent: poll until the expected number of runs shows."""
    deadline = time.monotonic() + within
    while True:
        found = await probe()
        if len(found) == count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def join(client: Client, settings: Settings, member_id: str) -> str:
    create_member(settings, member_id, email=f"{member_id.lower()}@example.com")
    assert await send_event(client, settings, member_id, "member.joined")
    workflow_id = f"journey-welcome-{member_id}"
    await wait_for_timer(client, workflow_id)
    return workflow_id


def test_visibility_query_filters_and_refuses_quotes() -> None:
    assert visibility_query("welcome", "M-1", "running", "wait_3_days") == (
        "WorkflowType = 'JourneyWorkflow' AND JourneyId = 'welcome' AND MemberId = 'M-1' "
        "AND Step = 'wait_3_days' AND ExecutionStatus = 'Running'"
    )
    with pytest.raises(SupportError, match="only letters"):
        visibility_query(member="x' OR '1'='1")
    with pytest.raises(SupportError, match="status 'paused'"):
        visibility_query(status="paused")


async def test_list_filters_show_and_exit_with_audit(
    dev_server_env: WorkflowEnvironment, settings: Settings, worker: Worker
) -> None:
    client = dev_server_env.client
    first, second = unique_member_id("R"), unique_member_id("R")
    first_id = await join(client, settings, first)
    second_id = await join(client, settings, second)

    for member in (first, second):
        found = await eventually(
            lambda m=member: list_runs(  # type: ignore[misc]
                client, journey="welcome", member=m, status="running", step="wait_3_days"
            ),
            1,
        )
        assert [(r.member_id, r.journey_id, r.step, r.status) for r in found] == [
            (member, "welcome", "wait_3_days", "running")
        ]
        assert found[0].variant in ("a", "b")
    assert await list_runs(client, member=first, step="welcome_email") == []

    running = await show_run(client, settings, first_id)
    assert running.source == "query" and running.status == "running"
    assert ("wait_3_days", "waiting", "for 3d") in [
        (line.step, line.outcome, line.detail) for line in running.lines
    ]

    recorded = await exit_run(client, settings, first_id, "asked by phone", "alice")
    assert recorded == "exited by alice: asked by phone"
    await client.get_workflow_handle(first_id).result()
    row = enrollment(settings, first_id)
    assert row is not None and row.exit_reason == "exited by alice: asked by phone"
    with pytest.raises(Exception, match=r"already|completed|not found|closed"):
        await exit_run(client, settings, first_id, "again", "alice")

    done = await eventually(lambda: list_runs(client, member=first, status="completed"), 1)
    assert [r.workflow_id for r in done] == [first_id]
    assert await eventually(lambda: list_runs(client, member=first, status="running"), 0) == []
    still = await list_runs(client, journey="welcome", member=second, status="running")
    assert [r.workflow_id for r in still] == [second_id]

    closed = await show_run(client, settings, first_id)
    assert closed.source == "result" and closed.status == "completed"
    assert closed.exit_reason == "exited by alice: asked by phone"
    assert ("exit", "requested", "exited by alice: asked by phone") in [
        (line.step, line.outcome, line.detail) for line in closed.lines
    ]

    timeline = build_timeline(settings, first)
    assert timeline is not None
    support = [e for e in timeline.entries if e.kind == "support"]
    assert [(e.by, e.summary, e.workflow_id) for e in support] == [
        ("alice", "exit by alice: asked by phone", first_id)
    ]
    exits = [e.summary for e in timeline.entries if e.kind == "journey_exited"]
    assert exits == ["left journey welcome: exited by alice: asked by phone"]


async def test_show_falls_back_to_the_database_without_temporal_history(
    dev_server_env: WorkflowEnvironment, settings: Settings, worker: Worker
) -> None:
    """A run Temporal no longer knows (history retention): the trail comes from the DB."""
    client = dev_server_env.client
    member = unique_member_id("R")
    workflow_id = await join(client, settings, member)
    await client.get_workflow_handle(workflow_id).terminate("test: gone")
    view = await show_run(client, settings, workflow_id)
    assert view.source == "database" and view.status == "terminated"
    entered = [line.step for line in view.lines if line.outcome == "entered"]
    assert entered == ["subject_line_test", "welcome_email", "wait_3_days"]
    assert any(line.outcome == "sent" for line in view.lines)
    with pytest.raises(SupportError, match="no run"):
        await show_run(client, settings, "journey-welcome-nobody")


async def test_retry_send_makes_a_new_message_and_keeps_the_failed_one(
    dev_server_env: WorkflowEnvironment,
    settings: Settings,
    worker: Worker,
    smtp_server: SmtpServer,
) -> None:
    client = dev_server_env.client
    member = unique_member_id("R")
    smtp_server.refuse_next("554 5.7.1 Message rejected as spam")
    await join(client, settings, member)
    failed = [m for m in messages(settings, member) if m.status == "failed"]
    assert len(failed) == 1 and failed[0].template == "welcome"
    old_id = failed[0].message_id

    new_id, result = await retry_send(client, settings, old_id, "bob")
    assert new_id != old_id
    assert result.status == "sent" and result.message_id == new_id
    assert len(smtp_server.messages) == 1
    rows = {m.message_id: m for m in messages(settings, member)}
    old, new = rows[old_id], rows[new_id]
    assert old.status == "failed" and old.reason is not None
    assert old.reason.endswith(f"[re-sent as {new_id} by bob]")
    assert (new.status, new.template, new.step_id, new.workflow_id, new.variant) == (
        "sent",
        "welcome",
        old.step_id,
        old.workflow_id,
        old.variant,
    )
    assert retried(settings.effective_database_url, old_id) == new_id

    # The same command again sends nothing more and gives the same answer.
    again_id, again = await retry_send(client, settings, old_id, "bob")
    assert (again_id, again.status) == (new_id, "sent")
    assert len(smtp_server.messages) == 1
    with session_scope(settings.effective_database_url) as session:
        audits = session.exec(select(SupportAction).where(SupportAction.message_id == old_id)).all()
        assert [(a.by, a.action, a.new_message_id) for a in audits] == [
            ("bob", "retry_send", new_id)
        ]
        assert session.get(Message, new_id) is not None
    with pytest.raises(SupportError, match="only failed messages"):
        await retry_send(client, settings, new_id, "bob")

    timeline = build_timeline(settings, member)
    assert timeline is not None
    support = [e.summary for e in timeline.entries if e.kind == "support"]
    assert support == [f"message {old_id} re-sent as {new_id} by bob: run retry-send-{old_id}"]
    statuses = [(e.message_id, e.status) for e in timeline.entries if e.kind == "message"]
    assert statuses == [(old_id, "failed"), (new_id, "sent")]


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    for name, value in {
        "LOYALFLOW_DATABASE_URL": settings.effective_database_url,
        "LOYALFLOW_HOME": str(settings.home),
        "LOYALFLOW_TEMPORAL_ADDRESS": settings.effective_temporal_address,
        "LOYALFLOW_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "LOYALFLOW_JOURNEYS_DIR": str(settings.journeys_dir),
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()  # the CLI reads these through the cached get_settings()
    yield CliRunner()
    get_settings.cache_clear()


async def test_the_command_line(
    dev_server_env: WorkflowEnvironment, settings: Settings, worker: Worker, cli: CliRunner
) -> None:
    client = dev_server_env.client
    member = unique_member_id("C")
    workflow_id = await join(client, settings, member)

    async def run(*args: str) -> Result:
        # Off this loop: the CLI runs its own, and the worker here must keep answering.
        return await asyncio.to_thread(cli.invoke, app, list(args))

    listed = await run("runs", "list", "--member", member, "--step", "wait_3_days", "--json")
    for _ in range(50):  # visibility is eventually consistent
        if workflow_id in listed.stdout:
            break
        await asyncio.sleep(0.2)
        listed = await run("runs", "list", "--member", member, "--step", "wait_3_days", "--json")
    assert listed.exit_code == 0, listed.output
    assert [r["workflow_id"] for r in json.loads(listed.stdout)] == [workflow_id]

    shown = await run("runs", "show", workflow_id)
    assert shown.exit_code == 0, shown.output
    assert "trail from the query" in shown.stdout and "wait_3_days waiting: for 3d" in shown.stdout

    explained = await run("member", "explain", member, "--journey", "welcome")
    assert explained.exit_code == 0, explained.output
    assert "then step benefits_reminder" in explained.stdout

    exited = await run("runs", "exit", workflow_id, "--reason", "asked", "--by", "carol")
    assert exited.exit_code == 0, exited.output
    assert "exited by carol: asked" in exited.stdout
    again = await run("runs", "exit", workflow_id, "--reason", "asked", "--by", "carol")
    assert again.exit_code == 1

    timeline = await run("member", "show", member, "--json")
    assert timeline.exit_code == 0, timeline.output
    kinds = [e["kind"] for e in json.loads(timeline.stdout)["entries"]]
    assert set(kinds[-2:]) == {"support", "journey_exited"}
    table = await run("member", "show", member)
    assert table.exit_code == 0 and "exit by carol: asked" in table.stdout
    assert (await run("member", "show", "M-nobody")).exit_code == 1
    assert (await run("runs", "retry-send", "no-such-message", "--by", "carol")).exit_code == 1
