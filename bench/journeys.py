"""Benchmark: welcome journeys through the real `loyalflow up` stack vs a bare Temporal workflow.

    python bench/journeys.py [--journeys N] [--concurrency C]

Starts `loyalflow up` (embedded Temporal, worker, API) in a temporary home, then:
Phase A (loyalflow): PUT /members/{id}, then POST /events member.joined; the welcome journey
sends its first email into $LOYALFLOW_HOME/outbox. Latency: from just before the POST to the
email's file appearing in the outbox.
Phase B (bare): the same server, an in-process worker, a workflow that runs one activity writing a
small .eml-like file, then sleeps for three days. Latency: from just before start_workflow to the
file appearing.
Each phase: a warm-up (not counted), 20 journeys one at a time (idle latency), then N journeys
with C starts in flight (throughput, p50/p99, CPU per journey by process). See bench/README.md.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import httpx
from bare_workflow import TASK_QUEUE, BareInput, BareWorkflow, write_message
from rich.table import Table
from stack import (
    RESULTS_DIR,
    Stack,
    console,
    loyalflow_up,
)
from temporalio.client import Client
from temporalio.worker import Worker

POLL_SECONDS = 0.005  # outbox scan interval: latency resolution
EMAIL_TIMEOUT_SECONDS = 120
SETTLE_SECONDS = 1.0  # after the last email, let the journeys reach their timer before CPU is read
IDLE_SAMPLES = 20
IDLE_PAUSE_SECONDS = 0.2  # lets the previous journey reach its timer
WARMUP = 5

Start = Callable[[str], Awaitable[None]]
CpuProbe = Callable[[], dict[str, float]]


@dataclass(frozen=True)
class Run:
    wall_seconds: float  # first start to last email
    latencies_ms: list[float]  # per journey: just before its start to its email's appearance
    calls_ms: list[float]  # how long each start call (POST /events, start_workflow) took


@dataclass(frozen=True)
class Phase:
    name: str
    loaded: Run  # N journeys, C starts in flight
    idle_ms: list[float]  # latencies of journeys started one at a time on an idle system
    cpu_ms: dict[str, float]  # CPU time per journey of the loaded run, by process

    @property
    def journeys(self) -> int:
        return len(self.loaded.latencies_ms)

    @property
    def per_second(self) -> float:
        return self.journeys / self.loaded.wall_seconds

    def percentile(self, percent: int, values: list[float] | None = None) -> float:
        values = self.loaded.latencies_ms if values is None else values
        return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "journeys": self.journeys,
            "wall_seconds": round(self.loaded.wall_seconds, 3),
            "journeys_per_second": round(self.per_second, 2),
            "p50_ms": round(self.percentile(50), 1),
            "p99_ms": round(self.percentile(99), 1),
            "start_call_p50_ms": round(self.percentile(50, self.loaded.calls_ms), 1),
            "idle_p50_ms": round(statistics.median(self.idle_ms), 1),
            "cpu_ms_per_journey": {name: round(ms, 1) for name, ms in self.cpu_ms.items()},
        }


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
    name: str, outbox: Outbox, start: Start, journeys: int, concurrency: int, cpu: CpuProbe
) -> Phase:
    """Warm-up (not counted), then journeys one at a time (idle latency), then N at C in flight."""
    await measure(outbox, addresses("warm", WARMUP), start, concurrency)
    idle: list[float] = []
    for recipient in addresses("idle", IDLE_SAMPLES):
        idle += (await measure(outbox, [recipient], start, 1)).latencies_ms
        await asyncio.sleep(IDLE_PAUSE_SECONDS)
    before = cpu()
    loaded = await measure(outbox, addresses("m", journeys), start, concurrency)
    await asyncio.sleep(SETTLE_SECONDS)
    cpu_ms = {k: (v - before.get(k, 0)) * 1000 / journeys for k, v in cpu().items()}
    return Phase(name, loaded, idle, cpu_ms)


def addresses(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}@example.com" for i in range(count)]


async def bounded(concurrency: int, calls: list[Awaitable[None]]) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(call: Awaitable[None]) -> None:
        async with gate:
            await call

    await asyncio.gather(*(one(c) for c in calls))


async def loyalflow_phase(stack: Stack, journeys: int, concurrency: int) -> Phase:
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
            *addresses("warm", WARMUP),
            *addresses("idle", IDLE_SAMPLES),
            *addresses("m", journeys),
        ]
        await bounded(concurrency, [put_member(e) for e in members])
        outbox = Outbox(stack.outbox)
        return await run_phase("loyalflow", outbox, join, journeys, concurrency, stack.cpu_seconds)


async def bare_phase(stack: Stack, journeys: int, concurrency: int) -> Phase:
    client = await Client.connect(stack.temporal_address, namespace="default")
    directory = stack.home / "bare-outbox"

    async def start(email: str) -> None:
        await client.start_workflow(
            BareWorkflow.run,
            BareInput(recipient=email, outbox=str(directory)),
            id=f"bare-{email}",
            task_queue=TASK_QUEUE,
        )

    async with Worker(
        client, task_queue=TASK_QUEUE, workflows=[BareWorkflow], activities=[write_message]
    ):
        outbox = Outbox(directory)
        return await run_phase("bare", outbox, start, journeys, concurrency, stack.cpu_seconds)


def report(phases: list[Phase], concurrency: int) -> dict[str, Any]:
    nproc = len(os.sched_getaffinity(0))
    ours, bare = phases
    ratios = {
        "throughput": ours.per_second / bare.per_second,
        "p50": ours.percentile(50) / bare.percentile(50),
        "p99": ours.percentile(99) / bare.percentile(99),
        "idle_p50": statistics.median(ours.idle_ms) / statistics.median(bare.idle_ms),
    }
    table = Table(
        title=f"welcome journeys (nproc {nproc}, concurrency {concurrency})",
        caption=(
            "times in ms; ratio: loyalflow / bare; call: POST /events or start_workflow; "
            f"idle: {IDLE_SAMPLES} journeys started one at a time"
        ),
    )
    for column in ("", "n", "wall s", "journeys/s", "p50", "p99", "call p50", "idle p50"):
        table.add_column(column, justify="right" if column else "left")
    for phase in phases:
        s = phase.summary()
        table.add_row(
            phase.name,
            str(phase.journeys),
            f"{phase.loaded.wall_seconds:.2f}",
            f"{phase.per_second:.1f}",
            f"{s['p50_ms']:.0f}",
            f"{s['p99_ms']:.0f}",
            f"{s['start_call_p50_ms']:.0f}",
            f"{s['idle_p50_ms']:.0f}",
        )
    table.add_row(
        "ratio",
        "",
        "",
        f"{ratios['throughput']:.2f}x",
        f"{ratios['p50']:.1f}x",
        f"{ratios['p99']:.1f}x",
        "",
        f"{ratios['idle_p50']:.1f}x",
    )
    console.print(table)
    cpu = Table(
        title="CPU ms per journey (loaded run), by process",
        caption="bench: this process (and the bare worker, in B)",
    )
    processes = ["temporal", "worker", "api", "bench"]
    for column in ("", *processes, "total"):
        cpu.add_column(column, justify="right" if column else "left")
    for phase in phases:
        shown = [phase.cpu_ms.get(name, 0.0) for name in processes]
        cpu.add_row(phase.name, *(f"{ms:.1f}" for ms in [*shown, sum(shown)]))
    console.print(cpu)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", *sys.argv]),
        "nproc": nproc,
        "concurrency": concurrency,
        "phases": [phase.summary() for phase in phases],
        "ratios": {name: round(value, 3) for name, value in ratios.items()},
    }


async def run(stack: Stack, journeys: int, concurrency: int) -> list[Phase]:
    console.print(f"phase A: {journeys} welcome journeys through the API …")
    ours = await loyalflow_phase(stack, journeys, concurrency)
    console.print(f"phase B: {journeys} bare workflows …")
    bare = await bare_phase(stack, journeys, concurrency)
    return [ours, bare]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--journeys", type=int, default=200, help="journeys per phase")
    parser.add_argument("--concurrency", type=int, default=20, help="starts in flight at once")
    args = parser.parse_args()
    if args.journeys < 2 or args.concurrency < 1:
        parser.error("need --journeys >= 2 and --concurrency >= 1")
    with (
        tempfile.TemporaryDirectory(prefix="loyalflow-bench-") as tmp,
        loyalflow_up(Path(tmp)) as stack,
    ):
        phases = asyncio.run(run(stack, args.journeys, args.concurrency))
    summary = report(phases, args.concurrency)
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"journeys-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    console.print(f"written to {path}")


if __name__ == "__main__":
    main()
