"""What bench/sweep.py measures: its constants, the page-call shape, and one database's outcome."""

import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.console import Console

PG_BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_sweep"
TARGET_QUERY_SECONDS = 2.0
QUERY_REPEATS = 5  # the page query alone is run this many times; the median is reported
PAGE_QUERY_PREFIX = "SELECT member.id, member.last_activity_at"
SEGMENT_QUERY_PREFIX = "SELECT member.id, member.email"  # segment_page selects whole members
SEGMENT_JOURNEY = "reactivation"  # segment `days_since(member.last_activity_at) >= 90`
ENROLLED_MODULUS = 20  # members of the segment whose id % 20 == 0 (5%) have a running enrollment


# Single buckets for the probes: about 4%, 0.14% and no members have been idle that long.
PROBE_DAYS = (700, 729, 800)
SEED = 20261122
console = Console(width=None if sys.stdout.isatty() else 160)


# One page: the cursor in; the rows the page query returned, the events emitted (or members
# selected), and the next cursor out.
PageCall = Callable[[str | None], tuple[int, int, str | None]]


@dataclass
class Pass:
    as_of: datetime
    seconds: float = 0.0
    pages: int = 0
    scanned: int = 0
    emitted: int = 0
    page_seconds: list[float] = field(default_factory=list)
    page_rows: list[int] = field(default_factory=list)  # members the page query returned

    def summary(self) -> dict[str, Any]:
        pages = sorted(self.page_seconds)
        cuts = statistics.quantiles(pages, n=100, method="inclusive") if len(pages) > 1 else pages
        slowest = sorted(range(len(pages)), key=lambda i: -self.page_seconds[i])[:5]
        return {
            "as_of": self.as_of.isoformat(),
            "seconds": round(self.seconds, 2),
            "pages": self.pages,
            "scanned": self.scanned,
            "emitted": self.emitted,
            "page_mean_ms": round(statistics.fmean(pages) * 1000, 1) if pages else None,
            "page_p50_ms": round(statistics.median(pages) * 1000, 1) if pages else None,
            "page_p90_ms": round(cuts[89 if len(cuts) > 1 else 0] * 1000, 1) if pages else None,
            "page_p99_ms": round(cuts[98 if len(cuts) > 1 else 0] * 1000, 1) if pages else None,
            "page_max_ms": round(pages[-1] * 1000, 1) if pages else None,
            "slowest_pages": {i: round(self.page_seconds[i] * 1000) for i in sorted(slowest)},
            "members_per_second": round(self.scanned / self.seconds) if self.seconds else None,
        }


@dataclass
class Outcome:
    database: str
    members: int
    imported_rows: int = 0
    import_seconds: float = 0.0
    bulk_rows: int = 0
    bulk_seconds: float = 0.0
    update_seconds: float = 0.0
    first_page_seconds: float = 0.0
    queries: dict[str, float] = field(default_factory=dict)  # page query alone, seconds
    plans: dict[str, str] = field(default_factory=dict)
    probe_rows: dict[str, int] = field(default_factory=dict)  # rows the probe pages returned
    statements: dict[str, str] = field(default_factory=dict)  # the page query, by page
    passes: list[Pass] = field(default_factory=list)
    import_report: dict[str, int] = field(default_factory=dict)
    # segment_page, for the reactivation journey
    enrollments: int = 0
    enroll_seconds: float = 0.0
    segment_expected: int = 0  # members idle for 90 days or more, less those enrolled
    segment_queries: dict[str, float] = field(default_factory=dict)  # page query alone, seconds
    segment_calls: dict[str, float] = field(default_factory=dict)  # whole segment_page, seconds
    segment_plans: dict[str, str] = field(default_factory=dict)
    segment_statements: dict[str, str] = field(default_factory=dict)
    segment_pass: Pass | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "members": self.members,
            "importer_rows": self.imported_rows,
            "importer_seconds": round(self.import_seconds, 1),
            "importer_rows_per_second": round(self.imported_rows / self.import_seconds)
            if self.import_seconds
            else None,
            "importer_report": self.import_report,
            "bulk_rows": self.bulk_rows,
            "bulk_seconds": round(self.bulk_seconds, 1),
            "update_seconds": round(self.update_seconds, 1),
            "first_page_emit_inactive_ms": round(self.first_page_seconds * 1000, 1),
            "page_query_ms": {k: round(v * 1000, 2) for k, v in self.queries.items()},
            "probe_page_rows": self.probe_rows,
            "page_query_sql": self.statements,
            "passes": [p.summary() for p in self.passes],
            "plans": self.plans,
            "segment": {
                "journey": SEGMENT_JOURNEY,
                "enrollments": self.enrollments,
                "enroll_seconds": round(self.enroll_seconds, 1),
                "expected_matches": self.segment_expected,
                "page_query_ms": {k: round(v * 1000, 2) for k, v in self.segment_queries.items()},
                "page_query_ratio_to_inactivity": {
                    k: round(v / self.queries[k], 1)
                    for k, v in self.segment_queries.items()
                    if self.queries.get(k)
                },
                "segment_page_ms": {k: round(v * 1000, 1) for k, v in self.segment_calls.items()},
                "page_query_sql": self.segment_statements,
                "pass": self.segment_pass.summary() if self.segment_pass else None,
                "plans": self.segment_plans,
            },
        }
