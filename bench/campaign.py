"""Benchmark: a segment-triggered campaign (the reactivation journey) over N inactive members.

    python bench/campaign.py [--members 100000] [--db sqlite|postgresql] [--workers N]
                             [--cache C]

Starts `loyalflow up --workers N` (embedded Temporal, the API, N worker processes on one task
queue; default 1) in a temporary home with a catalog of the reactivation journey alone, on SQLite
or in a throwaway PostgreSQL schema.
Inserts N members in SQL, all inactive for 200 days and consented, then triggers the journey's
segment-sweep schedule (as its daily cron would) and measures, until every run that should send
has a message in a final state: the time from the trigger to the last `sent_at`, sends per
second (over the middle 80% of the sends: the steady state), `GET /healthz` and `POST /events`
latencies while it runs, and the RSS of each process (VmHWM: peak). Messages go where the stack
sends by default: without SMTP or Twilio settings, .eml/.sms files in the outbox directory.
Every progress line (sent so far, sends/s over the last minute, RSS) is also written to the
result file, so a run cut short still reports its rate. See bench/README.md, "campaign.py".
"""

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

from campaign_data import (
    JOURNEY,
    ApiProbe,
    insert_members,
    mib,
    progress,
    status_kib,
    statuses,
)
from journeys import PACKAGE_JOURNEYS
from sqlalchemy import create_engine
from stack import RESULTS_DIR, Stack, child_pids, console, loyalflow_up, pg_schema
from temporalio.client import Client
from temporalio.service import RPCError

from loyalflow.routing.schedules import SEGMENT_SCHEDULE_PREFIX

PG_BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
POLL_SECONDS = 5.0
PRINT_EVERY_SECONDS = 30.0
RATE_WINDOW_SECONDS = 60.0
TIMEOUT_SECONDS = 6 * 3600
DEFAULT_CACHE = 300  # loyalflow.config.Settings.worker_max_cached_workflows


async def trigger_sweep(stack: Stack) -> None:
    """Triggers the journey's schedule once the worker has created it (at its start)."""
    client = await Client.connect(stack.temporal_address)
    handle = client.get_schedule_handle(SEGMENT_SCHEDULE_PREFIX + JOURNEY)
    deadline = time.monotonic() + 120
    while True:
        try:
            await handle.describe()
            break
        except RPCError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)
    await handle.trigger()


def rate_over(timeline: list[list[float]], seconds: float) -> float:
    """Sends per second over the last `seconds` of the timeline ([elapsed, sent] pairs)."""
    now, sent = timeline[-1]
    earlier = next((p for p in timeline if p[0] >= now - seconds), timeline[0])
    span = now - earlier[0]
    return round((sent - earlier[1]) / span, 2) if span > 0 else 0.0


def steady_rate(timeline: list[list[float]]) -> float | None:
    """Sends per second between 10% and 90% of the sends (no ramp-up, no tail)."""
    total = timeline[-1][1]
    low = next((p for p in timeline if p[1] >= 0.1 * total), None)
    high = next((p for p in timeline if p[1] >= 0.9 * total), None)
    if low is None or high is None or high[0] <= low[0]:
        return None
    return round((high[1] - low[1]) / (high[0] - low[0]), 2)


def measure(
    stack: Stack, url: str, args: argparse.Namespace, pids: dict[str, int], path: Path
) -> dict[str, object]:
    engine = create_engine(url)
    began = time.monotonic()
    insert_members(engine, args.members, datetime.now(UTC))
    console.print(f"{args.members:,} members inserted in {time.monotonic() - began:.1f}s")
    result: dict[str, object] = {
        "members": args.members,
        "database": args.db,
        "workers": args.workers,
        "worker_max_cached_workflows": args.cache,
        "sink": "outbox directory (the default without SMTP/Twilio settings)",
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "rss_before_mib": {n: mib(status_kib(p, "VmRSS")) for n, p in pids.items()},
    }
    probe = ApiProbe(stack.api_url)
    probe.start()
    timeline: list[list[float]] = []
    rss_max: dict[str, int] = dict.fromkeys(pids, 0)
    started_at = datetime.now(UTC)
    began = time.monotonic()
    asyncio.run(trigger_sweep(stack))
    last_print = began
    try:
        while True:
            time.sleep(POLL_SECONDS)
            state = progress(engine)
            elapsed = time.monotonic() - began
            timeline.append([round(elapsed, 1), float(state.sent)])
            rss = {n: status_kib(p, "VmRSS") for n, p in pids.items()}
            rss_max = {n: max(rss_max[n], v) for n, v in rss.items()}
            enrolled, should, final = state.enrolled, state.should_send, state.final
            done = enrolled == state.split == args.members and final >= should
            if done or time.monotonic() - last_print >= PRINT_EVERY_SECONDS:
                last_print = time.monotonic()
                rate = rate_over(timeline, RATE_WINDOW_SECONDS)
                memory = ", ".join(f"{n} {mib(v)}" for n, v in rss.items())
                console.print(
                    f"  {elapsed:6.0f}s enrolled {enrolled} sent {state.sent} "
                    f"({rate}/s over the last minute); RSS MiB: {memory}; "
                    f"load {os.getloadavg()[0]:.1f}"
                )
                result |= {
                    "complete": done,
                    "elapsed_seconds": round(elapsed, 1),
                    "enrolled": enrolled,
                    "sent": state.sent,
                    "should_send": should,
                    "final": final,
                    "last_minute_sends_per_second": rate,
                    "steady_sends_per_second": steady_rate(timeline),
                    "latency_ms": probe.summary(),
                    "probe_errors": probe.errors,
                    "rss_max_sampled_mib": {n: mib(v) for n, v in rss_max.items()},
                    "rss_peak_vmhwm_mib": {n: mib(status_kib(p, "VmHWM")) for n, p in pids.items()},
                    "load_average_now": [round(v, 2) for v in os.getloadavg()],
                    "timeline_elapsed_sent": timeline,
                }
                path.write_text(json.dumps(result, indent=2, default=str) + "\n")
            if done or elapsed > TIMEOUT_SECONDS:
                break
    finally:
        probe.stopping.set()
        probe.join(timeout=60)
    last = state.last_sent_at
    if isinstance(last, datetime):
        last = last if last.tzinfo else last.replace(tzinfo=UTC)
        result["trigger_to_last_message_seconds"] = round((last - started_at).total_seconds(), 1)
    result["latency_ms"] = probe.summary()
    result["messages_by_status"] = statuses(engine)
    engine.dispose()
    return result


def report(result: dict[str, object]) -> None:
    console.print_json(
        data={k: v for k, v in result.items() if k != "timeline_elapsed_sent"}, default=str
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, choices=range(1, 9), default=1)
    parser.add_argument("--cache", type=int, default=DEFAULT_CACHE)
    args = parser.parse_args()
    RESULTS_DIR.mkdir(exist_ok=True)
    label = f"{args.db}-{args.workers}w-{args.members}"
    path = RESULTS_DIR / f"campaign-{datetime.now():%Y%m%d-%H%M%S}-{label}.json"
    with tempfile.TemporaryDirectory(prefix="loyalflow-bench-") as tmp:
        home = Path(tmp)
        journeys = home / "journeys"
        journeys.mkdir()
        shutil.copy(PACKAGE_JOURNEYS / f"{JOURNEY}.yaml", journeys)
        env = {
            "LOYALFLOW_JOURNEYS_DIR": str(journeys),
            "LOYALFLOW_WORKER_MAX_CACHED_WORKFLOWS": str(args.cache),
            "LOYALFLOW_UP_WORKERS": str(args.workers),  # `loyalflow up --workers N`
        }
        schema = f"bench_campaign_{os.getpid()}"
        database = pg_schema(PG_BASE_URL, schema) if args.db == "postgresql" else nullcontext("")
        with database as pg_url:
            if pg_url:
                env["LOYALFLOW_DATABASE_URL"] = pg_url
            url = pg_url or f"sqlite:///{home / 'loyalflow.db'}"
            with loyalflow_up(home, env) as stack:
                workers = child_pids(stack, "worker")
                pids = {"worker": workers[0]} | {
                    f"worker{number}": pid for number, pid in enumerate(workers[1:], start=2)
                }
                for name in ("api", "temporal"):
                    pids[name] = child_pids(stack, name)[0]
                result = measure(stack, url, args, pids, path)
    report(result)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    console.print(f"written to {path}")


if __name__ == "__main__":
    main()
