"""Benchmark: event ingestion through the HTTP API (`POST /events` batches, routing on).

    python bench/ingest.py [--events N] [--joins J] [--batch 500] [--clients 4] [--members M]
                           [--db sqlite|postgresql|both] [--partition] [--breakdown B]
                           [--py-spy PATH] [--env LOYALFLOW_X=VALUE] [--journeys IDS]

For each database, starts `loyalflow up` in a temporary home (PostgreSQL: a throwaway schema,
dropped afterwards), creates M members with `PUT /members/{id}` (not timed), then times:
1. "visits and purchases": N `visit`/`purchase` events for those members. No journey is running
   for them, so routing only reads the enrollment table and marks each event routed. The first
   purchase of each member derives `purchase.first`, points derive `tier.upgraded`.
2. "joins": J `member.joined` events for new members (their profiles are PUT first, not timed);
   each starts one welcome journey (a workflow). Also reports when the last welcome email was
   settled in the message ledger (sent to the outbox, or skipped).
3. "new members' first purchases": one `purchase` per member of phase 2; each signals the
   member's running welcome journey (which exits on a purchase).
Then (--breakdown B) B more batches of phase 1 events, without HTTP: `store_events` and
`route_events`, as the API calls them, timed apart in this process, SQL statements counted.
Each phase posts JSON arrays of `--batch` events from `--clients` concurrent clients, which take
batches from one shared queue, or (--partition) each from its own members. See bench/README.md.
"""

import argparse
import asyncio
import json
import math
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from journeys import RESULTS_DIR, Stack
from journeys import loyalflow_up as journeys_up
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.engine import make_url

from loyalflow.config import Settings
from loyalflow.members.ingest import store_events
from loyalflow.models.api import EventIn
from loyalflow.models.db import get_engine
from loyalflow.routing.router import route_events
from loyalflow.rules.loyalty import rules_from
from loyalflow.runtime.connection import connect

PG_BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_ingest"
TARGET_EVENTS_PER_SECOND = 1000
REQUEST_TIMEOUT_SECONDS = 300
ATTEMPTS = 3  # a 5xx or a dropped connection is retried (events are idempotent by id)
RETRY_PAUSE_SECONDS = 0.5
SETTLE_TIMEOUT_SECONDS = 900  # then the phase's settling time is reported as not reached
PURCHASE_SHARE = 0.35  # of phase 1 events; the rest are visits
SEED = 20261122

console = Console(width=None if sys.stdout.isatty() else 160)


@dataclass(frozen=True)
class Options:
    events: int
    joins: int
    batch: int
    clients: int
    members: int
    partition: bool
    breakdown: int  # batches
    py_spy: Path | None
    env: dict[str, str] = field(default_factory=dict)  # extra settings for `loyalflow up`
    journeys: list[str] | None = None  # built-in journeys in the catalog (None: all of them)


@dataclass(frozen=True)
class Posted:
    """One batch: from its first attempt to its last answer."""

    events: int
    started_s: float  # since the start of the phase
    latency_ms: float
    attempts: int
    status: int | None  # of the last attempt; None if the connection failed
    routing: str | None  # "done" | "pending", from the response
    accepted: int = 0
    duplicates: int = 0
    derived: int = 0
    error: str | None = None


@dataclass
class PhaseResult:
    database: str
    name: str
    events: int  # posted
    wall_seconds: float
    posted: list[Posted]
    cpu_ms_per_event: dict[str, float]  # by process of `loyalflow up`, per event posted
    busy_percent: float  # of all CPUs of the machine (every process on it), during the phase
    rows_after: dict[str, int]  # event rows in the database right after the phase
    extra: dict[str, float] = field(default_factory=dict)
    started_at: str = ""  # wall clock, to place the re-router's log lines

    @property
    def stored(self) -> int:
        """Events in batches answered 202 (a failed batch stores nothing)."""
        return sum(p.events for p in self.posted if p.status == 202)

    @property
    def per_second(self) -> float:
        return self.stored / self.wall_seconds

    def latency(self, percent: int) -> float:
        values = sorted(p.latency_ms for p in self.posted)
        if len(values) == 1:
            return values[0]
        return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]

    def routing(self) -> dict[str, int]:
        """Requests by the `routing` field of their answer ("failed": no 202 answer at all)."""
        return dict(Counter(p.routing or "failed" for p in self.posted))

    def summary(self) -> dict[str, Any]:
        ok = [p for p in self.posted if p.status == 202]
        return {
            "database": self.database,
            "phase": self.name,
            "started_at": self.started_at,
            "events": self.events,
            "events_stored": self.stored,
            "requests": len(self.posted),
            "wall_seconds": round(self.wall_seconds, 3),
            "events_per_second": round(self.per_second, 1),
            "request_p50_ms": round(self.latency(50), 1),
            "request_p99_ms": round(self.latency(99), 1),
            "request_max_ms": round(max(p.latency_ms for p in self.posted), 1),
            "routing_requests": self.routing(),
            "routing_pending_events": sum(p.events for p in self.posted if p.routing == "pending"),
            "accepted": sum(p.accepted for p in ok),
            "duplicates": sum(p.duplicates for p in ok),
            "derived": sum(p.derived for p in ok),
            "retried_requests": sum(1 for p in self.posted if p.attempts > 1),
            "failed_requests": sum(1 for p in self.posted if p.status != 202),
            "errors": sorted({p.error for p in self.posted if p.error})[:5],
            "cpu_ms_per_event": {k: round(v, 3) for k, v in self.cpu_ms_per_event.items()},
            "machine_busy_percent": round(self.busy_percent, 1),
            "rows_after": self.rows_after,
            "requests_started_s_and_ms": [
                [round(p.started_s, 3), round(p.latency_ms, 1)]
                for p in sorted(self.posted, key=lambda p: p.started_s)
            ],
            **{k: round(v, 2) for k, v in self.extra.items()},
        }


# ---------------------------------------------------------------------------------------------
# Workload


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def member_ids(rng: random.Random, count: int, prefix: str) -> list[str]:
    """Card-number-like ids, e.g. `LF-30485719`, not in any particular order."""
    return [f"{prefix}-{n:08d}" for n in rng.sample(range(10_000_000, 100_000_000), count)]


def activity_events(
    rng: random.Random, members: list[str], count: int, prefix: str = "pos"
) -> list[dict[str, Any]]:
    """Visits and purchases, members at random, in time order over the last day."""
    start = datetime.now(UTC) - timedelta(days=1)
    step = timedelta(days=1) / max(count, 1)
    events: list[dict[str, Any]] = []
    for i in range(count):
        event: dict[str, Any] = {
            "event_id": f"{prefix}-{i:07d}-{rng.getrandbits(32):08x}",
            "member_id": rng.choice(members),
            "type": "visit",
            "occurred_at": iso(start + i * step),
        }
        if rng.random() < PURCHASE_SHARE:
            amount = round(min(rng.lognormvariate(3.5, 0.8), 2000.0), 2)
            event |= {"type": "purchase", "properties": {"amount": amount, "store": "S-12"}}
        else:
            event["properties"] = {"store": f"S-{rng.randrange(1, 40)}"}
        events.append(event)
    return events


def join_events(members: list[str]) -> list[dict[str, Any]]:
    now = iso(datetime.now(UTC))
    return [
        {"event_id": f"join-{m}", "member_id": m, "type": "member.joined", "occurred_at": now}
        for m in members
    ]


def first_purchases(rng: random.Random, members: list[str]) -> list[dict[str, Any]]:
    now = iso(datetime.now(UTC))
    return [
        {
            "event_id": f"first-{m}",
            "member_id": m,
            "type": "purchase",
            "occurred_at": now,
            "properties": {"amount": round(rng.uniform(5, 120), 2)},
        }
        for m in members
    ]


def batches(events: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


# ---------------------------------------------------------------------------------------------
# HTTP clients


async def post_batch(
    http: httpx.AsyncClient, batch: list[dict[str, Any]], phase_began: float
) -> Posted:
    began = time.perf_counter()
    status: int | None = None
    error: str | None = None
    for attempt in range(1, ATTEMPTS + 1):
        try:
            response = await http.post("/events", json=batch)
        except httpx.TransportError as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"
        else:
            status = response.status_code
            if status == 202:
                body = response.json()
                return Posted(
                    events=len(batch),
                    started_s=began - phase_began,
                    latency_ms=(time.perf_counter() - began) * 1000,
                    attempts=attempt,
                    status=status,
                    routing=body["routing"],
                    accepted=body["accepted"],
                    duplicates=body["duplicates"],
                    derived=body["derived"],
                )
            error = f"HTTP {status}: {response.text[:300]}"
            if status < 500:
                break
        await asyncio.sleep(RETRY_PAUSE_SECONDS)
    return Posted(
        events=len(batch),
        started_s=began - phase_began,
        latency_ms=(time.perf_counter() - began) * 1000,
        attempts=attempt,
        status=status,
        routing=None,
        error=error,
    )


async def post_all(
    http: httpx.AsyncClient, events: list[dict[str, Any]], options: Options
) -> list[Posted]:
    """`clients` loops, each posting its next batch as soon as its previous one is answered.

    Shared (default): one queue of batches, taken by whichever client is free, so concurrent
    batches share members. Partitioned: each client has its own stream of members (by a hash
    of the member id, like a keyed message queue), so concurrent batches never share one.
    """
    if options.partition:
        streams: list[list[dict[str, Any]]] = [[] for _ in range(options.clients)]
        for event in events:
            streams[zlib.crc32(event["member_id"].encode()) % options.clients].append(event)
        queues = [iter(batches(stream, options.batch)) for stream in streams]
    else:
        shared = iter(batches(events, options.batch))
        queues = [shared] * options.clients
    results: list[Posted] = []
    began = time.perf_counter()

    async def client(queue: Iterator[list[dict[str, Any]]]) -> None:
        for batch in queue:  # each batch goes to exactly one client
            results.append(await post_batch(http, batch, began))

    await asyncio.gather(*(client(queue) for queue in queues))
    return results


async def put_members(http: httpx.AsyncClient, members: list[str], clients: int) -> None:
    locales = ["en", "fr", "fr-CA", "de", "es"]
    zones = ["Europe/Paris", "Europe/Berlin", "America/Montreal", "UTC", "Europe/Madrid"]
    queue = iter(enumerate(members))

    async def client() -> None:
        for i, member in queue:
            body = {
                "email": f"{member.lower()}@example.com",
                "first_name": f"Member{i}",
                "locale": locales[i % len(locales)],
                "timezone": zones[i % len(zones)],
            }
            (await http.put(f"/members/{member}", json=body)).raise_for_status()

    await asyncio.gather(*(client() for _ in range(clients)))


# ---------------------------------------------------------------------------------------------
# The stack, the database and the profiler


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks) - idle, sum(ticks)


@contextmanager
def loyalflow_up(
    home: Path, database_url: str | None, label: str, env: dict[str, str]
) -> Iterator[Stack]:
    """bench/journeys.py's stack, plus a database URL; keeps the log if it shows errors."""
    extra = env | ({"LOYALFLOW_DATABASE_URL": database_url} if database_url is not None else {})
    with journeys_up(home, extra) as stack:
        yield stack
    log_path = home / "up.log"
    errors = [
        line
        for line in log_path.read_text(errors="replace").splitlines()
        if "Traceback" in line or "level=ERROR" in line or line.startswith("ERROR")
    ]
    if errors:
        kept = RESULTS_DIR / f"ingest-{label}-up.log"
        shutil.copyfile(log_path, kept)
        console.print(f"[yellow]{len(errors)} error line(s) in `loyalflow up`'s log: {kept}")


@contextmanager
def pg_schema(base_url: str, schema: str) -> Iterator[str]:
    """A fresh schema, dropped afterwards; yields a URL whose search_path is that schema."""
    engine = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        yield (
            make_url(base_url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with engine.connect() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


def child_pid(stack: Stack, name: str) -> int | None:
    """The pid of `loyalflow api` or `loyalflow worker` under `loyalflow up`."""
    for child in Path(f"/proc/{stack.pid}/task/{stack.pid}/children").read_text().split():
        args = Path(f"/proc/{child}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        if args[-1].decode() == name:
            return int(child)
    return None


@contextmanager
def profiled(py_spy: Path | None, stack: Stack, label: str) -> Iterator[None]:
    """py-spy (sampling, 100 Hz) on the API and the worker; collapsed stacks to bench/results."""
    if py_spy is None:
        yield
        return
    recorders: list[subprocess.Popen[bytes]] = []
    for name in ("api", "worker"):
        pid = child_pid(stack, name)
        if pid is None:
            continue
        out = RESULTS_DIR / f"ingest-{label}-{name}.txt"
        command = [str(py_spy), "record", "--pid", str(pid), "--format", "raw", "-r", "100"]
        recorders.append(
            subprocess.Popen(
                [*command, "--nonblocking", "-o", str(out)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            recorder.wait(timeout=60)


def event_rows(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            total, unrouted = connection.execute(
                text("SELECT COUNT(*), SUM(CASE WHEN routed THEN 0 ELSE 1 END) FROM event")
            ).one()
    finally:
        engine.dispose()
    return {"events": int(total), "unrouted": int(unrouted or 0)}


def welcome_messages(url: str) -> dict[str, int]:
    """The welcome journey's first messages in the ledger, by status."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT status, COUNT(*) FROM message "
                    "WHERE journey_id = 'welcome' AND step_id = 'welcome_email' GROUP BY status"
                )
            ).all()
    finally:
        engine.dispose()
    return {str(status): int(count) for status, count in rows}


async def wait_for_welcome(url: str, count: int) -> tuple[float, dict[str, int]]:
    """Until `count` welcome emails are settled (sent, skipped or failed) in the ledger."""
    began = time.perf_counter()
    while True:
        statuses = await asyncio.to_thread(welcome_messages, url)
        settled = sum(n for s, n in statuses.items() if s not in ("sending", "deferred"))
        if settled >= count:
            return time.perf_counter() - began, statuses
        if time.perf_counter() - began > SETTLE_TIMEOUT_SECONDS:
            console.print(f"[yellow]{settled} of {count} welcome emails settled: {statuses}")
            return math.nan, statuses
        await asyncio.sleep(0.2)


def running_enrollments(url: str) -> int:
    """Running welcome journeys: the ones phase 3's purchases end (the other built-in journeys
    a purchase starts, such as the monthly points reminder, run on by design)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            query = text(
                "SELECT COUNT(*) FROM enrollment WHERE exited_at IS NULL AND journey_id = 'welcome'"
            )
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()


async def wait_until_exited(url: str) -> float:
    """Until no welcome journey is running: every one got its purchase."""
    began = time.perf_counter()
    while (running := await asyncio.to_thread(running_enrollments, url)) > 0:
        if time.perf_counter() - began > SETTLE_TIMEOUT_SECONDS:
            console.print(f"[yellow]{running} welcome journeys still running")
            return math.nan
        await asyncio.sleep(0.2)
    return time.perf_counter() - began


# ---------------------------------------------------------------------------------------------
# Phases


async def run_phase(
    http: httpx.AsyncClient,
    stack: Stack,
    url: str,
    database: str,
    name: str,
    events: list[dict[str, Any]],
    options: Options,
) -> PhaseResult:
    console.print(f"  {name}: {len(events)} events, batches of {options.batch} …")
    started_at = datetime.now().isoformat(sep=" ", timespec="seconds")  # as in up's log
    before, busy_before = stack.cpu_seconds(), cpu_jiffies()
    with profiled(options.py_spy, stack, f"{database}-{name.split()[0]}"):
        began = time.perf_counter()
        posted = await post_all(http, events, options)
        wall = time.perf_counter() - began
    cpu = {k: (v - before.get(k, 0)) * 1000 / len(events) for k, v in stack.cpu_seconds().items()}
    busy_after = cpu_jiffies()
    busy = 100 * (busy_after[0] - busy_before[0]) / max(busy_after[1] - busy_before[1], 1)
    rows = await asyncio.to_thread(event_rows, url)
    result = PhaseResult(database, name, len(events), wall, posted, cpu, busy, rows)
    result.started_at = started_at
    return result


@dataclass
class Breakdown:
    """What the API does for a batch, `store_events` then `route_events`, timed apart."""

    database: str
    events: int = 0  # posted
    batches: int = 0
    routed: int = 0  # stored and routed, derived events included
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # wall
    cpu_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    statements: Counter[str] = field(default_factory=Counter)  # "<step> <SQL verb>"
    transactions: Counter[str] = field(default_factory=Counter)  # commits, by step

    def summary(self) -> dict[str, Any]:
        n = self.events
        total = self.seconds["store"] + self.seconds["route"]
        batches = self.batches or 1
        return {
            "database": self.database,
            "events": n,
            "routed": self.routed,
            "ms_per_event": {k: round(v * 1000 / n, 3) for k, v in self.seconds.items()},
            "cpu_ms_per_event": {k: round(v * 1000 / n, 3) for k, v in self.cpu_seconds.items()},
            "statements_per_batch": {
                k: round(v / batches, 1) for k, v in sorted(self.statements.items())
            },
            "transactions_per_batch": {
                k: round(v / batches, 1) for k, v in self.transactions.items()
            },
            "events_per_second_one_client": round(n / total, 1),
            "events_per_second_store_only": round(n / self.seconds["store"], 1),
        }


async def breakdown(
    stack: Stack, url: str, database: str, events: list[dict[str, Any]], batch: int
) -> Breakdown:
    """Phase 1's work without HTTP: each batch validated, stored, then routed, by the same
    functions the API calls, one batch at a time; SQL statements and commits counted."""
    settings = Settings(home=stack.home, database_url=url, temporal_address=stack.temporal_address)
    client = await connect(settings, wait_seconds=10)
    rules = rules_from(settings.loyalty_rules_file)
    result = Breakdown(database, events=len(events))
    step = ["store"]
    engine = get_engine(url)

    def on_statement(*args: Any) -> None:
        result.statements[f"{step[0]} {args[2].split(None, 1)[0].upper()}"] += 1

    def on_commit(_connection: Any) -> None:
        result.transactions[step[0]] += 1

    sqlalchemy_event.listen(engine, "before_cursor_execute", on_statement)
    sqlalchemy_event.listen(engine, "commit", on_commit)
    try:
        for chunk in batches(events, batch):
            parsed = [EventIn.model_validate(e) for e in chunk]
            step[0] = "store"
            began, cpu = time.perf_counter(), time.process_time()
            stored = await asyncio.to_thread(store_events, url, parsed, rules)
            result.seconds["store"] += time.perf_counter() - began
            result.cpu_seconds["store"] += time.process_time() - cpu
            new = [s.event for s in stored if not s.duplicate]
            step[0] = "route"
            began, cpu = time.perf_counter(), time.process_time()
            if not await route_events(client, settings, new):
                raise RuntimeError("routing left events pending")
            result.seconds["route"] += time.perf_counter() - began
            result.cpu_seconds["route"] += time.process_time() - cpu
            result.routed += len(new)
            result.batches += 1
    finally:
        sqlalchemy_event.remove(engine, "before_cursor_execute", on_statement)
        sqlalchemy_event.remove(engine, "commit", on_commit)
    return result


@dataclass
class DatabaseResult:
    phases: list[PhaseResult]
    breakdown: Breakdown | None
    # Events the worker's re-router routed again, from `loyalflow up`'s log: routing that took
    # longer than the re-router's grace period, or that was interrupted.
    rerouted: list[str] = field(default_factory=list)


REROUTED = re.compile(r"^(\S+ \S+) INFO loyalflow.routing.router re-routing (\d+) event")


def rerouted_lines(log: Path) -> list[str]:
    """`<time> <count>` for each re-router pass that found events."""
    found = (REROUTED.match(line) for line in log.read_text(errors="replace").splitlines())
    return [f"{m[1]} {m[2]}" for m in found if m]


async def run_database(stack: Stack, url: str, database: str, options: Options) -> DatabaseResult:
    rng = random.Random(SEED)
    existing = member_ids(rng, options.members, "LF")
    newcomers = member_ids(rng, options.joins, "NW")
    limits = httpx.Limits(max_connections=options.clients)
    timeout = httpx.Timeout(REQUEST_TIMEOUT_SECONDS)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=timeout, limits=limits) as http:
        console.print(f"  PUT /members for {len(existing)} members (not timed) …")
        await put_members(http, existing, options.clients)
        activity = await run_phase(
            http,
            stack,
            url,
            database,
            "visits and purchases",
            activity_events(rng, existing, options.events),
            options,
        )
        console.print(f"  PUT /members for {len(newcomers)} new members (not timed) …")
        await put_members(http, newcomers, options.clients)
        joins = await run_phase(
            http, stack, url, database, "joins", join_events(newcomers), options
        )
        console.print(f"  waiting for {options.joins} welcome emails …")
        waited, statuses = await wait_for_welcome(url, options.joins)
        joins.extra["welcome_emails_done_seconds"] = joins.wall_seconds + waited
        joins.extra |= {f"welcome_emails_{status}": n for status, n in statuses.items()}
        purchases = await run_phase(
            http,
            stack,
            url,
            database,
            "new members' first purchases",
            first_purchases(rng, newcomers),
            options,
        )
    console.print("  waiting for the welcome journeys to exit (each got a purchase) …")
    purchases.extra["journeys_exited_seconds"] = purchases.wall_seconds + await wait_until_exited(
        url
    )
    split = None
    if options.breakdown:
        console.print(f"  breakdown: {options.breakdown} batches, one at a time, in this process …")
        count = options.breakdown * options.batch
        events = activity_events(rng, existing, count, prefix="split")
        split = await breakdown(stack, url, database, events, options.batch)
    return DatabaseResult([activity, joins, purchases], split)


def only_journeys(home: Path, journey_ids: list[str]) -> dict[str, str]:
    """A catalog of some built-in journeys only (none: routing starts nothing)."""
    directory = home / "journeys"
    directory.mkdir()
    for journey_id in journey_ids:
        shutil.copy(Settings(_env_file=None).journeys_dir / f"{journey_id}.yaml", directory)
    return {"LOYALFLOW_JOURNEYS_DIR": str(directory)}


def bench_database(database: str, options: Options) -> DatabaseResult:
    console.print(f"[bold]{database}[/bold]")
    with tempfile.TemporaryDirectory(prefix="loyalflow-bench-ingest-") as tmp:
        home = Path(tmp)
        if options.journeys is not None:
            options = replace(options, env=options.env | only_journeys(home, options.journeys))
        if database == "sqlite":
            url = f"sqlite:///{home / 'loyalflow.db'}"
            with loyalflow_up(home, None, database, options.env) as stack:
                result = asyncio.run(run_database(stack, url, database, options))
            result.rerouted = rerouted_lines(home / "up.log")
        else:
            with (
                pg_schema(PG_BASE_URL, PG_SCHEMA) as url,
                loyalflow_up(home, url, database, options.env) as stack,
            ):
                result = asyncio.run(run_database(stack, url, database, options))
                get_engine(url).dispose()  # the breakdown's connections, before the schema goes
            result.rerouted = rerouted_lines(home / "up.log")
        return result


# ---------------------------------------------------------------------------------------------
# Report


def report(databases: list[DatabaseResult], options: Options) -> dict[str, Any]:
    nproc = len(os.sched_getaffinity(0))
    results = [phase for database in databases for phase in database.phases]
    table = Table(
        title=(
            f"POST /events, batches of {options.batch}, {options.clients} clients "
            f"({'partitioned by member' if options.partition else 'shared queue'}), "
            f"routing on (nproc {nproc}; target ≥ {TARGET_EVENTS_PER_SECOND} events/s)"
        ),
        caption=(
            "events/s: events stored / wall; latency: per request (batch, retries included), ms; "
            "routing: requests answered done / pending / failed; CPU: ms per event posted, by "
            "process; busy: all CPUs of the machine, every process"
        ),
    )
    columns = ["db", "phase", "events", "stored", "wall s", "events/s", "p50", "p99", "routing"]
    columns += ["derived", "CPU api", "CPU worker", "CPU temporal", "busy %"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("db", "phase") else "right")
    for result in results:
        s = result.summary()
        routing = s["routing_requests"]
        cpu = s["cpu_ms_per_event"]
        table.add_row(
            result.database,
            result.name,
            str(result.events),
            str(result.stored),
            f"{result.wall_seconds:.2f}",
            f"{result.per_second:.0f}",
            f"{s['request_p50_ms']:.0f}",
            f"{s['request_p99_ms']:.0f}",
            "/".join(str(routing.get(k, 0)) for k in ("done", "pending", "failed")),
            str(s["derived"]),
            f"{cpu.get('api', 0):.2f}",
            f"{cpu.get('worker', 0):.2f}",
            f"{cpu.get('temporal', 0):.2f}",
            f"{result.busy_percent:.0f}",
        )
    console.print(table)
    for result in results:
        s = result.summary()
        if s["failed_requests"] or s["retried_requests"] or s["rows_after"]["unrouted"]:
            console.print(
                f"[yellow]{result.database} / {result.name}: {s['failed_requests']} failed and "
                f"{s['retried_requests']} retried request(s), {s['rows_after']['unrouted']} "
                f"unrouted event row(s) right after the phase; {s['errors'][:1]}"
            )
        if "journeys_exited_seconds" in s:
            console.print(
                f"{result.database}: every welcome journey exited "
                f"{s['journeys_exited_seconds']:.1f}s after the first purchase was posted"
            )
        if "welcome_emails_done_seconds" in s:
            console.print(
                f"{result.database}: all {result.events} welcome emails settled in the ledger "
                f"{s['welcome_emails_done_seconds']:.1f}s after the first join was posted"
            )
    for database in databases:
        if database.rerouted:
            total = sum(int(line.split()[-1]) for line in database.rerouted)
            console.print(
                f"[yellow]{database.phases[0].database}: the worker's re-router routed {total} "
                "event(s) again "
                f"(time, events): {', '.join(database.rerouted)}"
            )
    splits = [database.breakdown for database in databases if database.breakdown]
    if splits:
        console.print(report_breakdown(splits, options))
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", *sys.argv]),
        "nproc": nproc,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
        "target_events_per_second": TARGET_EVENTS_PER_SECOND,
        "phases": [result.summary() for result in results],
        "breakdown": [split.summary() for split in splits],
        "rerouted_by_worker": {d.phases[0].database: d.rerouted for d in databases},
    }


def report_breakdown(splits: list[Breakdown], options: Options) -> Table:
    table = Table(
        title=(
            f"visits and purchases without HTTP: batches of {options.batch}, one at a time, "
            "store_events then route_events"
        ),
        caption=(
            "ms, CPU ms: per event posted (CPU: this process); SQL: statements per batch, "
            "by step and verb; tx: commits per batch"
        ),
    )
    columns = ["db", "store ms", "store CPU", "route ms", "route CPU", "events/s", "store only/s"]
    columns += ["store SQL", "route SQL", "tx store/route"]
    for column in columns:
        table.add_column(column, justify="left" if column == "db" else "right")
    for split in splits:
        s = split.summary()
        ms, cpu, sql = s["ms_per_event"], s["cpu_ms_per_event"], s["statements_per_batch"]
        tx = s["transactions_per_batch"]

        def verbs(step: str, sql: dict[str, float] = sql) -> str:
            return " ".join(
                f"{k.split()[1]} {v:g}" for k, v in sql.items() if k.startswith(f"{step} ")
            )

        table.add_row(
            split.database,
            f"{ms['store']:.3f}",
            f"{cpu['store']:.3f}",
            f"{ms['route']:.3f}",
            f"{cpu['route']:.3f}",
            f"{s['events_per_second_one_client']:.0f}",
            f"{s['events_per_second_store_only']:.0f}",
            verbs("store"),
            verbs("route"),
            f"{tx.get('store', 0):g}/{tx.get('route', 0):g}",
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000, help="phase 1: visits, purchases")
    parser.add_argument("--joins", type=int, default=2_000, help="phase 2 (and 3): new members")
    parser.add_argument("--batch", type=int, default=500, help="events per POST (max 1000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--members", type=int, default=500, help="existing members in phase 1")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--partition",
        action="store_true",
        help="each client posts its own members' events (no two concurrent batches share one)",
    )
    parser.add_argument(
        "--breakdown",
        type=int,
        default=10,
        help="then time store_events and route_events apart, in-process, for this many batches",
    )
    parser.add_argument(
        "--py-spy", type=Path, help="py-spy binary: record the API and worker during each phase"
    )
    parser.add_argument(
        "--journeys",
        help="comma-separated built-in journeys to keep in the catalog (default: all; '' for none)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="LOYALFLOW_X=VALUE",
        help="a setting for `loyalflow up` (repeatable), e.g. LOYALFLOW_WORKER_MAX_CACHED_WORKFLOWS",
    )
    args = parser.parse_args()
    if any("=" not in setting for setting in args.env):
        parser.error("--env takes NAME=VALUE")
    if min(args.events, args.joins, args.batch, args.clients, args.members) < 1:
        parser.error("every count must be at least 1")
    options = Options(
        args.events,
        args.joins,
        args.batch,
        args.clients,
        args.members,
        args.partition,
        args.breakdown,
        args.py_spy,
        dict(setting.split("=", 1) for setting in args.env),
        None if args.journeys is None else [j for j in args.journeys.split(",") if j],
    )
    RESULTS_DIR.mkdir(exist_ok=True)
    databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = [bench_database(database, options) for database in databases]
    summary = report(results, options)
    path = RESULTS_DIR / f"ingest-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    console.print(f"written to {path}")


if __name__ == "__main__":
    main()
