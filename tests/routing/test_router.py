"""Routing guarantees: nothing lost between the database and Temporal, nothing doubled."""

import asyncio
import signal
import socket
from pathlib import Path

from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event
from loyalflow.routing.reroute import reroute_pending
from tests.journey_helpers import create_member, messages, send_event, wait_for_messages
from tests.processes import loyalflow_env, start, wait_for_log

THANKS_JOURNEY = """
id: thanks
name: Thanks for the first purchase
trigger: {event: purchase.first}
topic: loyalty
steps:
  - {id: thank_you, kind: send, channel: email, template: welcome}
"""


def routed_flags(settings: Settings, member_id: str) -> list[bool]:
    with session_scope(settings.effective_database_url) as session:
        return [e.routed for e in session.exec(select(Event).where(Event.member_id == member_id))]


async def test_a_process_killed_between_commit_and_routing_loses_nothing(
    dev_server_env: WorkflowEnvironment, settings: Settings, member_id: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={"temporal_address": dev_server_env.client.service_client.config.target_host}
    )
    create_member(settings, member_id, email="lee@example.com")
    # The worker's re-router takes events left unrouted for more than a second.
    env = {**loyalflow_env(settings), "LOYALFLOW_REROUTE_GRACE_SECONDS": "1"}

    # Temporal "answers" on a socket that never speaks: the command commits the event, then hangs
    # on its way to Temporal, and is killed right there, between commit and routing.
    with socket.create_server(("127.0.0.1", 0)) as black_hole:
        stuck = start(
            ["event", "member.joined", "--member", member_id],
            {**env, "LOYALFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{black_hole.getsockname()[1]}"},
            tmp_path / "event.log",
        )
        for _ in range(600):  # up to 30 s for the commit
            if routed_flags(settings, member_id) == [False]:
                break
            await asyncio.sleep(0.05)
        stuck.send_signal(signal.SIGKILL)
        assert stuck.wait(timeout=10) == -signal.SIGKILL
    assert routed_flags(settings, member_id) == [False]

    log = tmp_path / "worker.log"
    worker = start(["worker"], env, log)
    try:
        wait_for_log(log, "worker polling task queue", worker, timeout=60)
        sent = await wait_for_messages(settings, member_id, 1, within=60)
        assert [m.template for m in sent] == ["welcome"]
        # Marked routed once the whole batch is routed, which may be after the email left.
        for _ in range(600):
            if routed_flags(settings, member_id) == [True]:
                break
            await asyncio.sleep(0.05)
        assert routed_flags(settings, member_id) == [True]

        # Routing again (a second re-router, a retry) starts and sends nothing more.
        await reroute_pending(dev_server_env.client, settings)
        await asyncio.sleep(2)
        assert len(messages(settings, member_id)) == 1
    finally:
        worker.terminate()
        worker.wait(timeout=30)


async def test_a_derived_event_starts_the_journey_it_triggers(
    dev_server_env: WorkflowEnvironment, settings: Settings, member_id: str, tmp_path: Path
) -> None:
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "thanks.yaml").write_text(THANKS_JOURNEY)
    settings = settings.model_copy(update={"journeys_dir": journeys})
    client = dev_server_env.client
    create_member(settings, member_id, email="max@example.com")
    await send_event(client, settings, member_id, "member.joined")

    await send_event(client, settings, member_id, "purchase", amount=30)
    handle = client.get_workflow_handle(f"journey-thanks-{member_id}")
    first_run = (await handle.describe()).run_id

    await send_event(client, settings, member_id, "purchase", amount=20)  # not a first purchase
    description = await handle.describe()
    assert description.run_id == first_run
    assert description.status == WorkflowExecutionStatus.RUNNING  # no worker on this queue
    try:
        await client.get_workflow_handle(f"journey-welcome-{member_id}").describe()
    except RPCError:
        pass  # the custom catalog has no welcome journey: nothing else was started
    else:
        raise AssertionError("a journey outside the catalog was started")
    await handle.terminate("test over")
