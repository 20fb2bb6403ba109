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
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from ingest_load import (
    activity_events,
    batches,
    first_purchases,
    join_events,
    member_ids,
    post_all,
    put_members,
)
from ingest_probe import (
    event_rows,
    rerouted_lines,
    wait_for_welcome,
    wait_until_exited,
)
from ingest_report import report
from ingest_shapes import (
    PG_BASE_URL,
    PG_SCHEMA,
    REQUEST_TIMEOUT_SECONDS,
    SEED,
    Breakdown,
    DatabaseResult,
    Options,
    PhaseResult,
    console,
)
from sqlalchemy import event as sqlalchemy_event
from stack import RESULTS_DIR, Stack, cpu_jiffies, pg_schema, profiled
from stack import loyalflow_up as up_on_free_ports

from loyalflow.catalog.event_types import event_types_from
from loyalflow.config import Settings
from loyalflow.members.ingest import store_events
from loyalflow.models.api import EventIn
from loyalflow.models.db import get_engine
from loyalflow.routing.router import route_events
from loyalflow.rules.loyalty import rules_from
from loyalflow.runtime.connection import connect

# ---------------------------------------------------------------------------------------------
# Workload


# ---------------------------------------------------------------------------------------------
# HTTP clients


# ---------------------------------------------------------------------------------------------
# The stack, the database and the profiler


@contextmanager
def loyalflow_up(
    home: Path, database_url: str | None, label: str, env: dict[str, str]
) -> Iterator[Stack]:
    """bench/journeys.py's stack, plus a database URL; keeps the log if it shows errors."""
    extra = env | ({"LOYALFLOW_DATABASE_URL": database_url} if database_url is not None else {})
    with up_on_free_ports(home, extra) as stack:
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
    with profiled(options.py_spy, stack, f"ingest-{database}-{name.split()[0]}"):
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


async def breakdown(
    stack: Stack, url: str, database: str, events: list[dict[str, Any]], batch: int
) -> Breakdown:
    """Phase 1's work without HTTP: each batch validated, stored, then routed, by the same
    functions the API calls, one batch at a time; SQL statements and commits counted."""
    settings = Settings(home=stack.home, database_url=url, temporal_address=stack.temporal_address)
    client = await connect(settings, wait_seconds=10)
    rules = rules_from(settings.loyalty_rules_file)
    event_types = event_types_from(settings.events_file)
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
            stored = await asyncio.to_thread(store_events, url, parsed, rules, event_types)
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
