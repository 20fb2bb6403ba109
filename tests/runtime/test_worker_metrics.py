"""A worker's metrics port, scraped over HTTP like Prometheus does: loyalflow's own metrics of the
work it did, and the Temporal SDK's, from a real `loyalflow worker` process."""

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from loyalflow.config import Settings
from tests.conftest import free_port
from tests.journey_helpers import create_member, send_event, wait_for_messages
from tests.observability.scrape import Series, samples, total, value
from tests.processes import loyalflow_env, start, wait_for_log

READY = "worker polling task queue"
TOKEN = "scrape-token"


async def scrape_until(
    url: str, holds: Callable[[dict[Series, float]], bool], within: float = 30
) -> dict[Series, float]:
    """Scrapes until `holds` (the SDK records an activity once its completion is reported,
    just after the message is in the ledger); the last scrape otherwise, for the assertion."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        while True:
            answer = await http.get(url, timeout=10)
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
            found = samples(answer.text)
            if holds(found) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.2)


def activity_runs(found: dict[Series, float]) -> float:
    return total(found, "temporal_activity_execution_latency_count", activity_type="send_message")


async def test_a_worker_that_sent_an_email_exposes_it_and_the_sdk_metrics(
    dev_server_env: WorkflowEnvironment, settings: Settings, member_id: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={"temporal_address": dev_server_env.client.service_client.config.target_host}
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    env = loyalflow_env(
        settings, LOYALFLOW_WORKER_METRICS_PORT=str(port), LOYALFLOW_METRICS_TOKEN=TOKEN
    )
    log = tmp_path / "worker.log"
    worker = start(["worker"], env, log)
    try:
        wait_for_log(log, READY, worker, timeout=60)
        assert f"worker metrics on {url}" in log.read_text()
        async with httpx.AsyncClient() as anonymous:  # the scrape token is required
            assert (await anonymous.get(url, timeout=10)).status_code == 401

        create_member(settings, member_id, email="kim@example.com", first_name="Kim")
        await send_event(dev_server_env.client, settings, member_id, "member.joined")
        assert len(await wait_for_messages(settings, member_id, 1)) == 1
        found = await scrape_until(url, lambda f: activity_runs(f) >= 1)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    # loyalflow's own: what this worker did (the event was routed by the test, not the worker).
    assert value(found, "loyalflow_messages_total", channel="email", outcome="sent", reason="") == 1
    assert total(found, "loyalflow_messages_total", channel="email", outcome="failed") == 0
    assert value(found, "loyalflow_send_duration_seconds_count", channel="email") == 1
    assert value(found, "loyalflow_journeys_entered_total", journey="welcome") == 1
    # The Temporal SDK's, through its Prometheus runtime option, on the same port.
    assert activity_runs(found) >= 1
    assert total(found, "temporal_request_total") > 0
    assert total(found, "temporal_worker_task_slots_available", worker_type="ActivityWorker") > 0


def test_a_second_worker_on_a_taken_metrics_port_says_which_port_and_what_to_set(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path / "home", _env_file=None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = loyalflow_env(settings, LOYALFLOW_WORKER_METRICS_PORT=str(port))
        log = tmp_path / "worker.log"
        worker = start(["worker"], env, log)
        code = worker.wait(timeout=60)

    assert code == 2
    said = log.read_text()
    assert f"cannot serve worker metrics on 127.0.0.1:{port}" in said
    assert "LOYALFLOW_WORKER_METRICS_PORT" in said
    assert "Traceback" not in said
