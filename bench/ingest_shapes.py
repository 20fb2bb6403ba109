"""What bench/ingest.py measures and reports: its options, phases, results and constants."""

import statistics
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

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


@dataclass
class DatabaseResult:
    phases: list[PhaseResult]
    breakdown: Breakdown | None
    # Events the worker's re-router routed again, from `loyalflow up`'s log: routing that took
    # longer than the re-router's grace period, or that was interrupted.
    rerouted: list[str] = field(default_factory=list)
