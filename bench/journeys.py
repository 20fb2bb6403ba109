"""Benchmark: welcome journeys through the real `loyalflow up` stack vs a bare Temporal workflow.

    python bench/journeys.py [--journeys N] [--concurrency C]

Starts `loyalflow up` (embedded Temporal, worker, API) in a temporary home, then:
Phase A (loyalflow): PUT /members/{id}, then POST /events member.joined; the welcome journey
sends its first email into $LOYALFLOW_HOME/outbox. Latency: from just before the POST to the
email's file appearing in the outbox.
Phase B (bare): the same server, an in-process worker, a workflow that runs one activity writing a
small .eml-like file, then sleeps for three days. Latency: from just before start_workflow to the
file appearing.
Phase C (shaped): the same, with the welcome journey's shape of commands (bench/bare_workflow.py).
Each phase: a warm-up (not counted), 20 journeys one at a time (idle latency), then N journeys
with C starts in flight (throughput, p50/p99, CPU per journey by process). `--rounds R` runs the
three phases R times, interleaved, and reports every round and the median ratios. See
bench/README.md.
"""

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from pathlib import Path

import httpx
from bare_workflow import (
    SHAPED_TASK_QUEUE,
    TASK_QUEUE,
    BareInput,
    BareWorkflow,
    ShapedWorkflow,
    create_database,
    pick,
    record_and_write,
    write_message,
)
from journeys_report import IDLE_SAMPLES, Phase, Run, report
from stack import RESULTS_DIR, Stack, console, loyalflow_up, profiled
from temporalio.client import Client
from temporalio.worker import Worker

PACKAGE_JOURNEYS = Path(__file__).resolve().parent.parent / "loyalflow" / "catalog" / "journeys"
POLL_SECONDS = 0.005  # outbox scan interval: latency resolution
EMAIL_TIMEOUT_SECONDS = 120
SETTLE_SECONDS = 1.0  # after the last email, let the journeys reach their timer before CPU is read
IDLE_PAUSE_SECONDS = 0.2  # lets the previous journey reach its timer
WARMUP = 5

Start = Callable[[str], Awaitable[None]]
CpuProbe = Callable[[], dict[str, float]]


class Outbox:
    """Watches a directory for .eml files: when did each recipient's first one appear?"""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.seen: set[str] = set()
        self.first: dict[str, float] = {}
        self.parser = BytesHeaderParser()

    def scan(self) -> None:
        # Taken before listing: a file found now appeared at the latest at `now`.
        now = time.perf_counter()
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return
        for entry in entries:
            if not entry.name.endswith(".eml") or entry.name in self.seen:
                continue
            self.seen.add(entry.name)
            with open(entry.path, "rb") as file:
                recipient = parseaddr(self.parser.parse(file)["To"] or "")[1].lower()
            self.first.setdefault(recipient, now)

    async def wait_for(self, recipients: list[str]) -> None:
        deadline = time.perf_counter() + EMAIL_TIMEOUT_SECONDS
        while True:
            self.scan()
            missing = [r for r in recipients if r not in self.first]
            if not missing:
                return
            if time.perf_counter() > deadline:
                raise TimeoutError(
                    f"{len(missing)} of {len(recipients)} emails missing from {self.directory} "
                    f"after {EMAIL_TIMEOUT_SECONDS}s (e.g. {missing[0]})"
                )
            await asyncio.sleep(POLL_SECONDS)


async def measure(outbox: Outbox, recipients: list[str], start: Start, concurrency: int) -> Run:
    """Starts one journey per recipient, C at a time, and waits for every first email."""
    started: dict[str, float] = {}
    calls: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(recipient: str) -> None:
        async with gate:
            started[recipient] = time.perf_counter()
            await start(recipient)
            calls.append((time.perf_counter() - started[recipient]) * 1000)

    watcher = asyncio.create_task(outbox.wait_for(recipients))
    try:
        await asyncio.gather(*(one(r) for r in recipients))
        await watcher
    finally:
        watcher.cancel()
    wall = max(outbox.first[r] for r in recipients) - min(started.values())
    latencies = [(outbox.first[r] - started[r]) * 1000 for r in recipients]
    return Run(wall, latencies, calls)


async def run_phase(
    name: str,
    number: int,
    outbox: Outbox,
    start: Start,
    journeys: int,
    concurrency: int,
    cpu: CpuProbe,
    profile: AbstractContextManager[None] | None = None,
) -> Phase:
    """Warm-up (not counted), then journeys one at a time (idle latency), then N at C in flight."""
    await measure(outbox, addresses(f"r{number}warm", WARMUP), start, concurrency)
    idle: list[float] = []
    for recipient in addresses(f"r{number}idle", IDLE_SAMPLES):
        idle += (await measure(outbox, [recipient], start, 1)).latencies_ms
        await asyncio.sleep(IDLE_PAUSE_SECONDS)
    before = cpu()
    with profile or nullcontext():
        loaded = await measure(outbox, addresses(f"r{number}m", journeys), start, concurrency)
    load_average = os.getloadavg()[0]
    await asyncio.sleep(SETTLE_SECONDS)
    cpu_ms = {k: (v - before.get(k, 0)) * 1000 / journeys for k, v in cpu().items()}
    return Phase(name, number, loaded, idle, cpu_ms, load_average)


def addresses(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}@example.com" for i in range(count)]


async def bounded(concurrency: int, calls: list[Awaitable[None]]) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(call: Awaitable[None]) -> None:
        async with gate:
            await call

    await asyncio.gather(*(one(c) for c in calls))


async def loyalflow_phase(
    stack: Stack, number: int, journeys: int, concurrency: int, py_spy: Path | None
) -> Phase:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60, limits=limits) as http:

        async def put_member(email: str) -> None:
            member = email.split("@")[0]
            body = {"email": email, "first_name": member.upper(), "locale": "en", "timezone": "UTC"}
            (await http.put(f"/members/{member}", json=body)).raise_for_status()

        async def join(email: str) -> None:
            event = {
                "event_id": f"join-{uuid.uuid4()}",
                "member_id": email.split("@")[0],
                "type": "member.joined",
                "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            }
            response = await http.post("/events", json=event)
            response.raise_for_status()
            if response.json()["routing"] != "done":
                raise RuntimeError(f"event for {email} was stored but not routed: {response.text}")

        # Members are created up front: the measurements cover the journeys only.
        members = [
            *addresses(f"r{number}warm", WARMUP),
            *addresses(f"r{number}idle", IDLE_SAMPLES),
            *addresses(f"r{number}m", journeys),
        ]
        await bounded(concurrency, [put_member(e) for e in members])
        outbox = Outbox(stack.outbox)
        return await run_phase(
            "loyalflow",
            number,
            outbox,
            join,
            journeys,
            concurrency,
            stack.cpu_seconds,
            profiled(py_spy, stack, f"journeys-r{number}", gil=True) if number == 1 else None,
        )


async def baseline_phase(
    stack: Stack, client: Client, name: str, number: int, journeys: int, concurrency: int
) -> Phase:
    """A bare workflow (`bare` or `shaped`) on the same server, worker in this process."""
    directory = stack.home / f"{name}-outbox"
    database = str(stack.home / "shaped.db")
    create_database(database)
    workflow, queue = (
        (BareWorkflow, TASK_QUEUE) if name == "bare" else (ShapedWorkflow, SHAPED_TASK_QUEUE)
    )

    async def start(email: str) -> None:
        await client.start_workflow(
            workflow.run,
            BareInput(recipient=email, outbox=str(directory), database=database),
            id=f"{name}-{email}",
            task_queue=queue,
        )

    async with Worker(
        client,
        task_queue=queue,
        workflows=[workflow],
        activities=[write_message] if name == "bare" else [pick, record_and_write],
    ):
        outbox = Outbox(directory)
        return await run_phase(
            name, number, outbox, start, journeys, concurrency, stack.cpu_seconds
        )


async def run(
    stack: Stack, rounds: int, journeys: int, concurrency: int, py_spy: Path | None
) -> list[dict[str, Phase]]:
    client = await Client.connect(stack.temporal_address, namespace="default")
    results: list[dict[str, Phase]] = []
    for number in range(1, rounds + 1):
        console.print(f"round {number}: {journeys} welcome journeys through the API …")
        phases = {"loyalflow": await loyalflow_phase(stack, number, journeys, concurrency, py_spy)}
        for name in ("bare", "shaped"):
            console.print(f"round {number}: {journeys} {name} workflows …")
            phases[name] = await baseline_phase(stack, client, name, number, journeys, concurrency)
        results.append(phases)
    return results


def catalog_env(home: Path, catalog: str) -> dict[str, str]:
    """`welcome`: a catalog of the welcome journey alone, so that one `member.joined` starts one
    journey, as one start starts one bare workflow. `all`: the built-in catalog, where it also
    starts the birthday journey (which exits at once for a member without a birthday)."""
    if catalog == "all":
        return {}
    directory = home / "journeys"
    directory.mkdir()
    shutil.copy(PACKAGE_JOURNEYS / "welcome.yaml", directory)
    return {"LOYALFLOW_JOURNEYS_DIR": str(directory)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--journeys", type=int, default=200, help="journeys per phase")
    parser.add_argument("--concurrency", type=int, default=20, help="starts in flight at once")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the phases")
    parser.add_argument(
        "--catalog",
        choices=["welcome", "all"],
        default="welcome",
        help="journeys a join starts: welcome alone (default) or every built-in one",
    )
    parser.add_argument(
        "--py-spy", type=Path, help="py-spy binary: profile round 1's loyalflow phase (+ perf)"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes (`loyalflow up --workers N`)"
    )
    args = parser.parse_args()
    if args.journeys < 2 or args.concurrency < 1 or args.rounds < 1 or args.workers < 1:
        parser.error("need --journeys >= 2, --concurrency >= 1, --rounds >= 1, --workers >= 1")
    with tempfile.TemporaryDirectory(prefix="loyalflow-bench-") as tmp:
        env = catalog_env(Path(tmp), args.catalog) | {"LOYALFLOW_UP_WORKERS": str(args.workers)}
        with loyalflow_up(Path(tmp), env) as stack:
            rounds = asyncio.run(
                run(stack, args.rounds, args.journeys, args.concurrency, args.py_spy)
            )
    summary = report(rounds, args.concurrency) | {"catalog": args.catalog, "workers": args.workers}
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"journeys-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    console.print(f"written to {path}")


if __name__ == "__main__":
    main()
