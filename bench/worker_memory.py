"""Benchmark: memory of the stack with N welcome journeys waiting on their 3-day timer.

    python bench/worker_memory.py [--members N] [--cache C] [--batch B] [--concurrency K]

Starts `loyalflow up` (embedded Temporal, SQLite, worker, API) in a temporary home, with a catalog
of the welcome journey alone and `LOYALFLOW_WORKER_MAX_CACHED_WORKFLOWS=C` (default 300, the
setting's default). Creates N members (`PUT /members/{id}`, K in flight), then joins them with
`POST /events` batches of B `member.joined` events: every welcome journey sends its first email
and waits 3 days. Once the `enrollment` table shows all N runs at the `wait_3_days` step, it
samples VmRSS of the worker, the API and the Temporal server every second for 30 s, and reads
their VmHWM (peak). See bench/README.md, "worker_memory.py".
"""

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from journeys import addresses, bounded, catalog_env
from rich.table import Table
from stack import RESULTS_DIR, Stack, child_pid, console, loyalflow_up

PROCESSES = ("worker", "api", "temporal")
DEFAULT_CACHE = 300  # loyalflow.config.Settings.worker_max_cached_workflows
SAMPLE_SECONDS = 30
WAIT_STEP = "wait_3_days"
WAIT_TIMEOUT_SECONDS = 3600
POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Memory:
    """One process's figures, in MiB: at rest (median and max of the samples) and peak."""

    before_mib: float  # VmRSS once healthy, before any member
    rest_median_mib: float
    rest_max_mib: float
    peak_mib: float  # VmHWM: the highest VmRSS since the process started
    per_1000_runs_mib: float  # (rest median - before) per 1,000 waiting runs


def status_kib(pid: int, field: str) -> int:
    """VmRSS or VmHWM of a process, in KiB, from /proc/<pid>/status (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def pids(stack: Stack) -> dict[str, int]:
    found = {name: child_pid(stack, name) for name in PROCESSES}
    missing = [name for name, pid in found.items() if pid is None]
    if missing:
        raise RuntimeError(f"no {', '.join(missing)} process under `loyalflow up` ({stack.pid})")
    return {name: pid for name, pid in found.items() if pid is not None}


def waiting_runs(database: Path) -> int:
    """Welcome runs whose enrollment row says they reached the wait and have not exited."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        row = connection.execute(
            "SELECT count(*) FROM enrollment WHERE journey_id = 'welcome' "
            "AND current_step = ? AND exited_at IS NULL",
            (WAIT_STEP,),
        ).fetchone()
    return int(row[0])


async def create_members(stack: Stack, emails: list[str], concurrency: int) -> None:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=120, limits=limits) as http:

        async def put_member(email: str) -> None:
            member = email.split("@")[0]
            body = {"email": email, "first_name": member.upper(), "locale": "en", "timezone": "UTC"}
            (await http.put(f"/members/{member}", json=body)).raise_for_status()

        await bounded(concurrency, [put_member(e) for e in emails])


async def join(stack: Stack, emails: list[str], batch: int) -> None:
    """`member.joined` for every member, `batch` events per `POST /events`, one POST at a time."""
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=600) as http:
        for first in range(0, len(emails), batch):
            now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            events = [
                {
                    "event_id": f"join-{uuid.uuid4()}",
                    "member_id": email.split("@")[0],
                    "type": "member.joined",
                    "occurred_at": now,
                }
                for email in emails[first : first + batch]
            ]
            response = await http.post("/events", json=events)
            response.raise_for_status()
            if response.json()["routing"] != "done":
                raise RuntimeError(f"batch at {first} stored but not routed: {response.text}")
            if (first // batch) % 10 == 0:
                console.print(f"  joined {first + len(events)} of {len(emails)}")


def wait_all_waiting(database: Path, members: int, processes: dict[str, int]) -> None:
    """Polls the enrollments; each line carries the RSS so far (figures for a run cut short)."""
    deadline = time.monotonic() + WAIT_TIMEOUT_SECONDS
    while (waiting := waiting_runs(database)) < members:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {waiting} of {members} runs waiting after the timeout")
        rss = ", ".join(f"{n} {mib(status_kib(p, 'VmRSS'))}" for n, p in processes.items())
        console.print(f"  {waiting} of {members} runs waiting; RSS MiB: {rss}")
        time.sleep(POLL_SECONDS)


def sample_rss(processes: dict[str, int]) -> dict[str, list[int]]:
    samples: dict[str, list[int]] = {name: [] for name in processes}
    for _ in range(SAMPLE_SECONDS):
        for name, pid in processes.items():
            samples[name].append(status_kib(pid, "VmRSS"))
        time.sleep(1)
    return samples


def mib(kib: float) -> float:
    return round(kib / 1024, 1)


def measure(
    stack: Stack, members: int, cache: int, batch: int, concurrency: int
) -> dict[str, object]:
    processes = pids(stack)
    before = {name: status_kib(pid, "VmRSS") for name, pid in processes.items()}
    emails = addresses("wm", members)
    console.print(f"creating {members} members …")
    began = time.monotonic()
    asyncio.run(create_members(stack, emails, concurrency))
    members_seconds = time.monotonic() - began
    console.print(f"joining {members} members, {batch} per POST /events …")
    began = time.monotonic()
    asyncio.run(join(stack, emails, batch))
    posted_seconds = time.monotonic() - began
    wait_all_waiting(stack.home / "loyalflow.db", members, processes)
    waiting_seconds = time.monotonic() - began
    load_average = os.getloadavg()
    console.print(f"all {members} runs waiting; sampling RSS for {SAMPLE_SECONDS} s …")
    samples = sample_rss(processes)
    memory = {
        name: Memory(
            before_mib=mib(before[name]),
            rest_median_mib=mib(statistics.median(samples[name])),
            rest_max_mib=mib(max(samples[name])),
            peak_mib=mib(status_kib(pid, "VmHWM")),
            per_1000_runs_mib=round(
                (statistics.median(samples[name]) - before[name]) / 1024 * 1000 / members, 2
            ),
        )
        for name, pid in processes.items()
    }
    return {
        "members": members,
        "worker_max_cached_workflows": cache,
        "batch": batch,
        "members_seconds": round(members_seconds, 1),
        "joins_posted_seconds": round(posted_seconds, 1),
        "joins_to_all_waiting_seconds": round(waiting_seconds, 1),
        "load_average_1_5_15": [round(v, 2) for v in load_average],
        "still_waiting_after_sampling": waiting_runs(stack.home / "loyalflow.db"),
        "memory": {name: asdict(m) for name, m in memory.items()},
        "rss_samples_kib": samples,
    }


def report(result: dict[str, object]) -> None:
    table = Table(
        title=f"{result['members']} welcome runs waiting on their 3-day timer "
        f"(worker cache {result['worker_max_cached_workflows']})"
    )
    for column in ("process", "before", "at rest (median)", "at rest (max)", "peak (VmHWM)"):
        table.add_column(column, justify="left" if column == "process" else "right")
    table.add_column("per 1,000 runs", justify="right")
    memory = result["memory"]
    assert isinstance(memory, dict)
    for name, figures in memory.items():
        table.add_row(
            name,
            *(
                f"{figures[key]:.1f} MiB"
                for key in ("before_mib", "rest_median_mib", "rest_max_mib", "peak_mib")
            ),
            f"{figures['per_1000_runs_mib']:.2f} MiB",
        )
    console.print(table)
    console.print(
        f"members created in {result['members_seconds']} s; joins posted in "
        f"{result['joins_posted_seconds']} s, all runs waiting after "
        f"{result['joins_to_all_waiting_seconds']} s; load average {result['load_average_1_5_15']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=10_000, help="welcome runs left waiting")
    parser.add_argument(
        "--cache", type=int, default=DEFAULT_CACHE, help="LOYALFLOW_WORKER_MAX_CACHED_WORKFLOWS"
    )
    parser.add_argument("--batch", type=int, default=250, help="events per POST /events (≤1000)")
    parser.add_argument("--concurrency", type=int, default=10, help="member PUTs in flight")
    args = parser.parse_args()
    if args.members < 1 or args.cache < 0 or not 1 <= args.batch <= 1000 or args.concurrency < 1:
        parser.error("need --members >= 1, --cache >= 0, 1 <= --batch <= 1000, --concurrency >= 1")
    with tempfile.TemporaryDirectory(prefix="loyalflow-bench-") as tmp:
        home = Path(tmp)
        env = catalog_env(home, "welcome") | {
            "LOYALFLOW_WORKER_MAX_CACHED_WORKFLOWS": str(args.cache)
        }
        with loyalflow_up(home, env) as stack:
            result = measure(stack, args.members, args.cache, args.batch, args.concurrency)
    report(result)
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"worker-memory-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"written to {path}")


if __name__ == "__main__":
    main()
