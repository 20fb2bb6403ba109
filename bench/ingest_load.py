"""The load bench/ingest.py sends: member ids, joins, purchases and visits, in batches, through the API."""

import asyncio
import random
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from ingest_shapes import (
    ATTEMPTS,
    PURCHASE_SHARE,
    RETRY_PAUSE_SECONDS,
    Options,
    Posted,
)


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
