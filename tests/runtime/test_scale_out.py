"""Scale-out: two `loyalflow worker` processes and `loyalflow api`, as separate processes, against a
Temporal server started apart (the CLI's dev server standing in for a cluster) and PostgreSQL,
as production runs them. One worker is SIGKILLed while a campaign of 500 joins (500 welcome
journeys) is being sent; the other finishes the work.

What must hold, from the members' side: nobody receives two welcome emails, and whoever receives
none is one of the sends the killed worker had in the provider's hands (a ledger row written off
as interrupted; at most one per pooled SMTP connection). Marked `chaos`, as test_chaos.py is:
plain `pytest` (and so CI) runs it; PostgreSQL is required, as for every PostgreSQL test.
"""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from loyalflow.config import Settings
from loyalflow.models.db import get_engine
from loyalflow.runtime.embedded import dev_server_command
from tests.conftest import POSTGRES_URL, free_port
from tests.processes import post_until_stored, start, wait_for_http, wait_for_log
from tests.runtime.test_up_e2e import up_environment
from tests.smtp_server import SmtpServer, wait_for_received

pytestmark = pytest.mark.chaos

MEMBERS = 500
BATCH = 50
POOL_SIZE = 4
SETTLE_SECONDS = 600
POLLING = "worker polling task queue"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL runs only when LOYALFLOW_TEST_DATABASE_URL is set")
    schema = f"scale_out_{uuid.uuid4().hex[:8]}"
    engine = get_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield (
            make_url(POSTGRES_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def member(n: int) -> str:
    return f"SO-{n:04d}"


def address(n: int) -> str:
    return f"scale{n:04d}@example.com"


async def campaign(api: str) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        for n in range(MEMBERS):
            body = {"email": address(n), "first_name": f"M{n}", "locale": "en"}
            response = await http.put(f"/members/{member(n)}", json=body)
            assert response.status_code in (200, 201), response.text
        joins: list[dict[str, object]] = [
            {
                "event_id": f"scale-join-{n}",
                "member_id": member(n),
                "type": "member.joined",
                "occurred_at": "2026-12-01T09:00:00Z",
            }
            for n in range(MEMBERS)
        ]
        batches = [joins[i : i + BATCH] for i in range(0, MEMBERS, BATCH)]
        await asyncio.gather(*(post_until_stored(http, batch) for batch in batches))


def welcome_rows(url: str) -> dict[str, tuple[str, object]]:
    with get_engine(url).connect() as connection:
        rows = connection.execute(
            text("SELECT member_id, status, interrupted_at FROM message WHERE template = 'welcome'")
        ).all()
    return {row[0]: (row[1], row[2]) for row in rows}


async def settle(url: str) -> dict[str, tuple[str, object]]:
    rows: dict[str, tuple[str, object]] = {}
    for _ in range(SETTLE_SECONDS * 2):
        rows = welcome_rows(url)
        if sum(1 for status, _ in rows.values() if status in ("sent", "failed")) == MEMBERS:
            return rows
        await asyncio.sleep(0.5)
    raise AssertionError(f"after {SETTLE_SECONDS}s: {Counter(s for s, _ in rows.values())}")


def start_server(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    """`temporal server start-dev` as `loyalflow up` would run it, but apart, like a cluster."""
    with log.open("wb") as out:
        return subprocess.Popen(
            dev_server_command(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loyalflow", "migrate"], env=env, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# Slower than the suite's 300 s default: 500 journeys through separate processes, on a CI box.
@pytest.mark.timeout(900)
async def test_two_workers_one_killed_mid_campaign_every_member_gets_one_welcome(
    tmp_path: Path, smtp_server: SmtpServer, postgres_url: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env, ports = up_environment(home, smtp_server)
    temporal_port = free_port()
    env |= {
        "LOYALFLOW_DATABASE_URL": postgres_url,
        "LOYALFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "LOYALFLOW_SMTP_POOL_SIZE": str(POOL_SIZE),
    }
    server_settings = Settings(
        home=home, temporal_port=temporal_port, temporal_ui_port=free_port(), _env_file=None
    )
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(start_server(server_settings, tmp_path / "temporal.log"))
        migrate(env)
        logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
        # Each worker on a host needs its own metrics port (a shared one makes the second exit).
        workers = [
            start(["worker"], env | {"LOYALFLOW_WORKER_METRICS_PORT": str(free_port())}, log)
            for log in logs
        ]
        processes += workers
        for worker, log in zip(workers, logs, strict=True):
            wait_for_log(log, POLLING, worker, timeout=120)
        api_log = tmp_path / "api.log"
        api = start(["api"], env, api_log)
        processes.append(api)
        api_url = f"http://127.0.0.1:{ports['api']}"
        wait_for_http(f"{api_url}/healthz", api, api_log, timeout=120)

        await campaign(api_url)
        await wait_for_received(smtp_server, MEMBERS // 3)
        os.killpg(workers[0].pid, signal.SIGKILL)
        rows = await settle(postgres_url)
        # The survivor did the rest: it logged sends of its own after the kill.
        assert workers[1].poll() is None
    finally:
        stop_all(processes)

    received = Counter(str(message["To"]) for message in smtp_server.messages)
    by_member = {member(n): received.get(address(n), 0) for n in range(MEMBERS)}
    written_off = {m for m, (status, at) in rows.items() if status == "failed" and at is not None}
    lost = {m for m, count in by_member.items() if count == 0}
    duplicated = {m for m, count in by_member.items() if count > 1}
    print(
        f"\nscale-out: {sum(received.values())} received, lost {len(lost)}, "
        f"written off {len(written_off)}, duplicated {len(duplicated)}"
    )
    assert duplicated == set()
    assert lost <= written_off  # whoever got nothing has a ledger row that says why
    assert len(written_off) <= POOL_SIZE
    assert sum(by_member.values()) >= MEMBERS - POOL_SIZE
