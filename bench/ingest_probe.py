"""What bench/ingest.py reads back from the database and the logs while a phase settles."""

import asyncio
import math
import re
import time
from pathlib import Path

from ingest_shapes import SETTLE_TIMEOUT_SECONDS, console
from sqlalchemy import create_engine, text


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


REROUTED = re.compile(r"^(\S+ \S+) INFO loyalflow.routing.reroute re-routing (\d+) event")


def rerouted_lines(log: Path) -> list[str]:
    """`<time> <count>` for each re-router pass that found events."""
    found = (REROUTED.match(line) for line in log.read_text(errors="replace").splitlines())
    return [f"{m[1]} {m[2]}" for m in found if m]
