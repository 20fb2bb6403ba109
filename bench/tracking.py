"""`GET /t/c/<token>` under load: p50/p99 latency and errors of the click redirect (issue 16).

    python bench/tracking.py [--rate 200] [--clients 8] [--seconds 10] [--messages 500]

Starts `loyalflow up` (bench/journeys.py's stack, SQLite, free ports), seeds members with one
sent message each and one tracked link (straight into the database, as the send activity
would), then fires clicks at a fixed total rate from N client tasks (open loop: a slow answer
does not slow the offered rate). Every click is a human one (browser user agent, and the
"too soon after sending" rule off), so each also stores an `email.clicked` event that the API
routes after answering: the redirect must not wait for that.
"""

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import func
from sqlmodel import select
from stack import RESULTS_DIR, free_ports, loyalflow_up

from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event, Member, Message
from loyalflow.models.tracking_tables import EngagementHit, MessageLink
from loyalflow.security.tracking_tokens import make_tracking_token

console = Console()
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def seed(settings: Settings, count: int) -> list[str]:
    """`count` members, each with a sent message holding one link; returns the click paths."""
    sent = datetime.now(UTC) - timedelta(hours=1)
    paths: list[str] = []
    with session_scope(settings.effective_database_url) as session:
        for index in range(count):
            member_id, message_id = f"bench-{index}", str(uuid.uuid4())
            session.add(Member(id=member_id, email=f"{member_id}@example.com"))
            session.flush()
            session.add(
                Message(
                    message_id=message_id,
                    member_id=member_id,
                    journey_id="welcome",
                    workflow_id=f"bench-{index}",
                    step_id="welcome_email",
                    channel="email",
                    template="welcome",
                    topic="onboarding",
                    status="sent",
                    sent_at=sent,
                )
            )
            session.add(MessageLink(message_id=message_id, position=0, url="https://example.com/"))
            token = make_tracking_token(settings, "click", message_id, 0)
            paths.append(f"/t/c/{token}")
    return paths


async def client_loop(
    http: httpx.AsyncClient,
    paths: list[str],
    interval: float,
    until: float,
    latencies: list[float],
    errors: list[str],
) -> None:
    tasks: list[asyncio.Task[None]] = []

    async def one(path: str) -> None:
        began = time.perf_counter()
        try:
            response = await http.get(path, headers={"User-Agent": BROWSER})
            if response.status_code != 302:
                errors.append(f"HTTP {response.status_code}")
        except httpx.HTTPError as exc:
            errors.append(type(exc).__name__)
        latencies.append((time.perf_counter() - began) * 1000)

    next_at = time.perf_counter()
    index = 0
    while next_at < until:
        tasks.append(asyncio.create_task(one(paths[index % len(paths)])))
        index += 1
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    await asyncio.gather(*tasks)


def counts(settings: Settings) -> dict[str, int]:
    with session_scope(settings.effective_database_url) as session:
        hits = session.exec(select(func.count()).select_from(EngagementHit)).one()
        events = session.exec(
            select(func.count()).select_from(Event).where(Event.type == "email.clicked")
        ).one()
        routed = session.exec(
            select(func.count())
            .select_from(Event)
            .where(Event.type == "email.clicked", Event.routed == True)  # noqa: E712
        ).one()
    return {"hits": int(hits), "click_events": int(events), "routed": int(routed)}


async def load(api_url: str, paths: list[str], options: argparse.Namespace) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    interval = options.clients / options.rate  # each client's share of the total rate
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=api_url, timeout=10, limits=limits) as http:
        began = time.perf_counter()
        until = began + options.seconds
        await asyncio.gather(
            *(
                client_loop(http, paths[c :: options.clients], interval, until, latencies, errors)
                for c in range(options.clients)
            )
        )
        wall = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "achieved_rps": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 1),
        "max_ms": round(ordered[-1], 1),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200, help="clicks per second, in total")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--messages", type=int, default=500)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loyalflow-bench-tracking-") as directory:
        home = Path(directory)
        (bounce_port,) = free_ports(1)
        extra = {"LOYALFLOW_TRACKING_BOT_SECONDS": "0", "LOYALFLOW_BOUNCE_PORT": str(bounce_port)}
        with loyalflow_up(home, extra) as stack:
            settings = Settings(home=home, _env_file=None)
            paths = seed(settings, options.messages)
            result = asyncio.run(load(stack.api_url, paths, options))
            time.sleep(2)  # routing happens after the redirects: give it a moment to finish
            result |= counts(settings)
    table = Table(title=f"GET /t/c at {options.rate:g}/s from {options.clients} clients, SQLite")
    for key, value in result.items():
        table.add_row(key, str(value))
    console.print(table)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"tracking-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({"options": vars(options), "result": result}, indent=2))
    console.print(f"written to {out}")


if __name__ == "__main__":
    main()
