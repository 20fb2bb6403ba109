"""Benchmark: the Segment-style `/v1/batch` against `POST /events`, side by side in one run.

    python bench/segment.py [--events N] [--batch 100] [--clients 4] [--members M]
                            [--db sqlite|postgresql|both]

For each database, starts `loyalflow up` (routing on, the built-in journeys) in a temporary
home with a write key (PostgreSQL: a throwaway schema, dropped afterwards), creates M members
and their first purchases (not timed), then times N events through each endpoint (in two
halves, ABBA order), in batches of `--batch` from `--clients` concurrent clients: the same mix
both ways, 35% purchases (`Order Completed`), 45%
visits (`page`) and 20% of a custom declared type (`app.opened`, `track "App Opened"`).
Reports events per second for each and the ratio (goal: /v1/batch at least 0.9x of /events).
"""

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from stack import RESULTS_DIR, pg_schema
from stack import loyalflow_up as journeys_up

PG_BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_segment"
WRITE_KEY = "bench-write-key"
GOAL_RATIO = 0.9
SEED = 20261204

console = Console(width=None if sys.stdout.isatty() else 160)


@dataclass(frozen=True)
class Result:
    database: str
    endpoint: str
    events: int
    seconds: float
    failures: int

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


def activities(rng: random.Random, members: list[str], count: int) -> list[tuple[str, str, float]]:
    """(member, kind, amount): the same draws feed both endpoints."""
    drawn = []
    for _ in range(count):
        roll = rng.random()
        kind = "purchase" if roll < 0.35 else "visit" if roll < 0.8 else "app.opened"
        drawn.append((rng.choice(members), kind, round(rng.uniform(5, 120), 2)))
    return drawn


def as_event(member: str, kind: str, amount: float, at: str) -> dict[str, Any]:
    properties: dict[str, Any] = {"amount": amount} if kind == "purchase" else {}
    return {
        "event_id": str(uuid.uuid4()),
        "member_id": member,
        "type": kind,
        "occurred_at": at,
        "properties": properties,
    }


def as_segment(member: str, kind: str, amount: float, at: str) -> dict[str, Any]:
    message: dict[str, Any] = {"messageId": str(uuid.uuid4()), "userId": member, "timestamp": at}
    if kind == "purchase":
        properties = {"order_id": message["messageId"], "revenue": amount, "currency": "EUR"}
        return message | {"type": "track", "event": "Order Completed", "properties": properties}
    if kind == "visit":
        return message | {"type": "page", "name": "Home"}
    return message | {"type": "track", "event": "App Opened"}


async def post_all(api: str, endpoint: str, batches: list[Any], clients: int) -> tuple[float, int]:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)
    failures = 0

    async def client() -> None:
        nonlocal failures
        async with httpx.AsyncClient(base_url=api, timeout=300, auth=(WRITE_KEY, "")) as http:
            while not queue.empty():
                body = queue.get_nowait()
                response = await http.post(
                    endpoint, content=json.dumps(body), headers={"Content-Type": "application/json"}
                )
                if response.status_code not in (200, 202):
                    failures += 1
                    console.print(f"[red]{endpoint}: {response.status_code} {response.text[:200]}")

    began = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.monotonic() - began, failures


async def run(api: str, database: str, options: argparse.Namespace) -> list[Result]:
    rng = random.Random(SEED)
    members = [f"bench-{n}" for n in range(options.members)]
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        for member in members:
            (await http.put(f"/members/{member}", json={})).raise_for_status()
    at = "2026-12-01T10:00:00Z"
    # Untimed: each member's first purchase (purchase.first, the first_purchase journey's start)
    # so that neither endpoint pays for them; then the two alternate (ABBA) to share any drift.
    first = [as_event(member, "purchase", 10.0, at) for member in members]
    await post_all(api, "/events", [first[n : n + 100] for n in range(0, len(first), 100)], 1)
    size = options.batch
    totals: dict[str, list[float]] = {"/events": [0, 0, 0], "/v1/batch": [0, 0, 0]}
    for endpoint in ("/events", "/v1/batch", "/v1/batch", "/events"):
        shape = as_event if endpoint == "/events" else as_segment
        drawn = activities(rng, members, options.events // 2)
        messages = [shape(member, kind, amount, at) for member, kind, amount in drawn]
        chunks = [messages[n : n + size] for n in range(0, len(messages), size)]
        bodies: list[Any] = chunks if endpoint == "/events" else [{"batch": c} for c in chunks]
        console.print(f"  {endpoint}: {len(messages)} events in {len(bodies)} requests …")
        seconds, failures = await post_all(api, endpoint, bodies, options.clients)
        totals[endpoint][0] += len(messages) - failures * size
        totals[endpoint][1] += seconds
        totals[endpoint][2] += failures
    results = [
        Result(database, endpoint, int(events), seconds, int(failures))
        for endpoint, (events, seconds, failures) in totals.items()
    ]
    return results


def bench(database: str, options: argparse.Namespace) -> list[Result]:
    console.print(f"[bold]{database}[/bold]")
    with tempfile.TemporaryDirectory(prefix="loyalflow-bench-segment-") as tmp:
        env = {"LOYALFLOW_WRITE_KEYS": WRITE_KEY}
        if database == "sqlite":
            with journeys_up(Path(tmp), env) as stack:
                return asyncio.run(run(stack.api_url, database, options))
        with (
            pg_schema(PG_BASE_URL, PG_SCHEMA) as url,
            journeys_up(Path(tmp), env | {"LOYALFLOW_DATABASE_URL": url}) as stack,
        ):
            return asyncio.run(run(stack.api_url, database, options))


def report(results: list[Result], options: argparse.Namespace) -> dict[str, Any]:
    table = Table(
        title=f"batches of {options.batch}, {options.clients} clients, routing on",
        caption=f"ratio: /v1/batch events/s over POST /events events/s (goal ≥ {GOAL_RATIO})",
    )
    for column in ("database", "endpoint", "events", "wall s", "events/s", "failed", "ratio"):
        table.add_column(column, justify="left" if column in ("database", "endpoint") else "right")
    rows = []
    for result in results:
        base = next(r for r in results if r.database == result.database and r.endpoint == "/events")
        ratio = result.per_second / base.per_second
        table.add_row(
            result.database,
            result.endpoint,
            str(result.events),
            f"{result.seconds:.1f}",
            f"{result.per_second:.0f}",
            str(result.failures),
            f"{ratio:.2f}",
        )
        rows.append({**result.__dict__, "per_second": result.per_second, "ratio": ratio})
    console.print(table)
    return {"options": vars(options), "results": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="per endpoint")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    options = parser.parse_args()
    databases = ["sqlite", "postgresql"] if options.db == "both" else [options.db]
    results = [result for database in databases for result in bench(database, options)]
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / "segment.json"
    out.write_text(json.dumps(report(results, options), indent=2))
    console.print(f"results: {out}")


if __name__ == "__main__":
    main()
