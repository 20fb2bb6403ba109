"""bench/ingest.py's tables and JSON: events per second, settling times, CPU, per database."""

import os
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest_shapes import TARGET_EVENTS_PER_SECOND, Breakdown, DatabaseResult, Options, console
from rich.table import Table


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
