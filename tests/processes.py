"""Starting loyalflow commands as real subprocesses, the way an operator runs them."""

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from loyalflow.config import Settings


def loyalflow_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALFLOW_")}
    env.update(
        LOYALFLOW_HOME=str(settings.home),
        LOYALFLOW_DATABASE_URL=settings.effective_database_url,
        LOYALFLOW_TEMPORAL_TASK_QUEUE=settings.temporal_task_queue,
        PYTHONUNBUFFERED="1",
    )
    if settings.temporal_address:
        env["LOYALFLOW_TEMPORAL_ADDRESS"] = settings.temporal_address
    env.update(extra)
    return env


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Its own process group, like a command typed in a terminal: killpg reaches its children."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "loyalflow", *command],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_log(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise AssertionError(f"process exited ({process.returncode}):\n{log.read_text()}")
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not seen within {timeout}s:\n{log.read_text()}")


def wait_for_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited ({process.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout}s:\n{log.read_text()}")


async def post_until_stored(http: httpx.AsyncClient, batch: list[dict[str, object]]) -> None:
    """Posts a batch of events until the API answers, as a client does whose request died with
    the process that served it (ingestion is idempotent by event id)."""
    for _ in range(120):
        try:
            response = await http.post("/events", json=batch)
        except httpx.HTTPError:
            await asyncio.sleep(0.5)
            continue
        if response.status_code < 500:
            assert response.status_code in (200, 201, 202), response.text
            return
        await asyncio.sleep(0.5)
    raise AssertionError("the API never took the batch")


def children_of(pid: int) -> dict[int, str]:
    """The direct children of `pid` and their command lines, from /proc (Linux)."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found[int(entry.name)] = command
    return found
