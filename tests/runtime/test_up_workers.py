"""`loyalflow up --workers N`: N worker processes on one task queue (SQLite, the embedded server),
each with its own metrics port, each restarted on its own when it dies."""

import asyncio
import os
import signal
import socket
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from loyalflow.config import TASK_QUEUE
from tests.observability.scrape import samples, value
from tests.processes import children_of, start, wait_for_http, wait_for_log
from tests.runtime.test_up_logs import READY, port_open, up_env

MEMBERS = 12
EMAIL_SENT = {"channel": "email", "outcome": "sent", "reason": ""}


def consecutive_free_ports(count: int) -> int:
    """The first of `count` consecutive free loopback ports."""
    for _ in range(100):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            base: int = first.getsockname()[1]
        try:
            probes = []
            for port in range(base, base + count):
                probe = socket.socket()
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise AssertionError(f"no {count} consecutive free ports")


def workers_of(up_pid: int) -> list[int]:
    return sorted(
        pid for pid, command in children_of(up_pid).items() if command.endswith("loyalflow worker ")
    )


async def workflow_pollers(client: Client) -> set[str]:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace="default",
            task_queue=TaskQueue(name=TASK_QUEUE),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return {poller.identity for poller in response.pollers}


async def sent_by_each(ports: list[int]) -> list[float]:
    async with httpx.AsyncClient(timeout=10) as http:
        pages = [await http.get(f"http://127.0.0.1:{port}/metrics") for port in ports]
    return [value(samples(page.text), "loyalflow_messages_total", **EMAIL_SENT) for page in pages]


async def test_up_with_two_workers_shares_the_journeys_and_restarts_each_worker_alone(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    env, ports = up_env(home)
    first_metrics = consecutive_free_ports(2)
    env["LOYALFLOW_WORKER_METRICS_PORT"] = str(first_metrics)
    metrics_ports = [first_metrics, first_metrics + 1]
    log = tmp_path / "up.log"
    up = start(["up", "--workers", "2"], env, log)
    try:
        wait_for_log(log, READY, up, timeout=120)
        table = [line.strip("│ ").split(" │ ") for line in log.read_text().splitlines()]
        printed = {row[0].strip(): row[1].strip() for row in table if len(row) == 2}
        for number, port in enumerate(metrics_ports, start=1):
            assert printed[f"Worker {number} metrics"] == f"http://127.0.0.1:{port}/metrics"
            wait_for_http(f"http://127.0.0.1:{port}/metrics", up, log, timeout=60)
        workers = workers_of(up.pid)
        assert len(workers) == 2, children_of(up.pid)

        client = await Client.connect(f"127.0.0.1:{ports[0]}")
        for _ in range(300):  # both pollers registered on the journeys' task queue
            pollers = await workflow_pollers(client)
            if len(pollers) == 2:
                break
            await asyncio.sleep(0.1)
        assert len(pollers) == 2, pollers
        assert {identity.split("@")[0] for identity in pollers} == {str(pid) for pid in workers}

        api = f"http://127.0.0.1:{ports[2]}"
        async with httpx.AsyncClient(base_url=api, timeout=30) as http:
            for number in range(MEMBERS):
                member = f"W-{number}"
                put = await http.put(f"/members/{member}", json={"email": f"{member}@example.com"})
                assert put.status_code == 201, put.text
            joins = [
                {
                    "event_id": f"join-{number}",
                    "member_id": f"W-{number}",
                    "type": "member.joined",
                    "occurred_at": "2026-11-20T09:00:00+00:00",
                }
                for number in range(MEMBERS)
            ]
            assert (await http.post("/events", json=joins)).json()["accepted"] == MEMBERS

        outbox = home / "outbox"
        for _ in range(600):
            counts = await sent_by_each(metrics_ports)
            if sum(counts) >= MEMBERS:
                break
            await asyncio.sleep(0.1)
        # Each email counted once, by the worker that sent it; the outbox has one per member.
        assert sum(counts) == MEMBERS, counts
        assert len(list(outbox.glob("*.eml"))) == MEMBERS

        os.kill(workers[1], signal.SIGKILL)
        wait_for_log(log, "restarting (#1)", up, timeout=30)
        output = " ".join(log.read_text().split())
        assert "worker 2 exited (-9); restarting (#1)" in output
        assert "worker 1 exited" not in output
        wait_for_http(f"http://127.0.0.1:{metrics_ports[1]}/metrics", up, log, timeout=60)
        restarted = workers_of(up.pid)
        assert workers[0] in restarted and workers[1] not in restarted and len(restarted) == 2

        os.killpg(up.pid, signal.SIGINT)
        assert up.wait(timeout=60) == 0
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)


def test_up_names_the_metrics_ports_that_do_not_exist_instead_of_a_traceback(
    tmp_path: Path,
) -> None:
    env, ports = up_env(tmp_path / "home")
    env["LOYALFLOW_WORKER_METRICS_PORT"] = "65535"
    log = tmp_path / "up.log"
    up = start(["up", "--workers", "2"], env, log)
    try:
        code = up.wait(timeout=120)
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
    output = " ".join(log.read_text().split())

    assert code == 1, output
    assert "2 workers need ports 65535 to 65536 for their metrics" in output
    assert "Traceback" not in output
    assert not port_open(ports[0])  # the embedded Temporal server stopped again
