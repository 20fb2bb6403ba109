"""Benchmark: the segment sweeps' page queries over a large member table, SQLite and PostgreSQL.

    python bench/sweep.py [--members 1000000] [--db sqlite|postgresql|both]
                          [--import-rows N] [--page-size 500] [--no-repeat]

For each database (a fresh SQLite file in a temporary directory, or a throwaway PostgreSQL
schema, dropped afterwards):
1. Imports a generated CSV of members with loyalflow's importer (`import_members`, as
   `loyalflow import members` does) and reports its rate. With --import-rows N, only the first
   N rows go through the importer and the rest are bulk-loaded with multi-row INSERTs.
2. Sets `member.last_activity_at` (not a CSV column) with one SQL UPDATE, spread over the past
   two years by a hash of the member id.
3. Calls `emit_inactive` (the sweep activity's database part; no routing, no Temporal) for
   every page (a full pass; its first call is the "first page"), then times the page query alone
   (the SQL and parameters the product sends, captured from the engine) at the first, middle and
   last page, and prints the query plans. Then a second full pass one day later, and the first
   page's query with single buckets that few or no members exceed (the query's worst case).
4. Inserts running enrollments in the `reactivation` journey for 5% of the members its segment
   selects, then calls `segment_page` (the segment-triggered journeys' page: SQL pre-filter,
   NOT EXISTS on blocking enrollments, exact evaluation in Python; no journey starts) for every
   page, and times its page query alone and the whole call at the first, middle and last page.
See bench/README.md.
"""

import argparse
import csv
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import phonenumbers
from journeys import RESULTS_DIR
from rich.console import Console
from rich.table import Table
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    cast,
    create_engine,
    event,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlmodel import col

from loyalflow.activities.segment_query import prefilter
from loyalflow.activities.segments import emit_inactive, segment_page
from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.members.importer import import_members
from loyalflow.models.conditions import parse_condition
from loyalflow.models.db import get_engine, upgrade_database
from loyalflow.models.journey import Journey
from loyalflow.models.tables import Enrollment, Member
from loyalflow.models.workflow_io import SweepPageRequest
from loyalflow.rules.loyalty import rules_from

PG_BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_sweep"
TARGET_QUERY_SECONDS = 2.0
TWO_YEARS_SECONDS = 730 * 86400
KNUTH = 2654435761  # multiplicative hash of the id's digits
BULK_CHUNK = 10_000
QUERY_REPEATS = 5  # the page query alone is run this many times; the median is reported
PAGE_QUERY_PREFIX = "SELECT member.id, member.last_activity_at"
SEGMENT_QUERY_PREFIX = "SELECT member.id, member.email"  # segment_page selects whole members
SEGMENT_JOURNEY = "reactivation"  # segment `days_since(member.last_activity_at) >= 90`
ENROLLED_MODULUS = 20  # members of the segment whose id % 20 == 0 (5%) have a running enrollment
# Single buckets for the probes: about 4%, 0.14% and no members have been idle that long.
PROBE_DAYS = (700, 729, 800)
SEED = 20261122

console = Console(width=None if sys.stdout.isatty() else 160)

FIRST_NAMES = ["Ada", "Bruno", "Chloé", "Dmitri", "Élodie", "Farid", "Grace", "Hugo", "Inès"]
FIRST_NAMES += ["Jonas", "Kenza", "Léa", "Mateo", "Nora", "Omar", "Paula", "Quentin", "Rosa"]
LOCALES = ["en", "fr", "fr-CA", "de", "es", "it", "nl"]
ZONES = ["Europe/Paris", "Europe/Berlin", "America/Montreal", "UTC", "Europe/Madrid"]
COLUMNS = ["member_id", "email", "phone", "first_name", "locale", "timezone", "home_store"]


# ---------------------------------------------------------------------------------------------
# The member file


def mobile_number(rng: random.Random) -> str:
    """A French mobile number in E.164 that the importer accepts (not every 06 range is)."""
    while True:
        number = f"+33{rng.choice('67')}{rng.randrange(10_000_000, 100_000_000)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number


def generate_csv(path: Path, count: int) -> None:
    """Card-number-like ids (`LF-` and 9 digits, in no particular order), 40% with a phone."""
    rng = random.Random(SEED)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for number in rng.sample(range(100_000_000, 1_000_000_000), count):
            name = FIRST_NAMES[number % len(FIRST_NAMES)]
            phone = mobile_number(rng) if rng.random() < 0.4 else ""
            writer.writerow(
                [
                    f"LF-{number}",
                    f"m{number}@example.com",
                    phone,
                    name,
                    LOCALES[number % len(LOCALES)],
                    ZONES[number % len(ZONES)],
                    f"S-{number % 120:03d}",
                ]
            )


def split_csv(source: Path, head: Path, head_rows: int) -> list[list[str]]:
    """Writes the header and the first rows to `head`; returns the other rows."""
    with source.open(newline="", encoding="utf-8") as file, head.open("w", newline="") as out:
        reader, writer = csv.reader(file), csv.writer(out)
        writer.writerow(next(reader))
        for _ in range(head_rows):
            row = next(reader, None)
            if row is None:
                break
            writer.writerow(row)
        return list(reader)


def bulk_insert(url: str, rows: list[list[str]]) -> None:
    """Multi-row INSERTs of rows the generator made valid and normalised (no validation)."""
    now = datetime.now(UTC)
    with get_engine(url).begin() as connection:
        for start in range(0, len(rows), BULK_CHUNK):
            values = [
                {
                    "id": member_id,
                    "email": email,
                    "phone": phone or None,
                    "first_name": first_name,
                    "locale": locale,
                    "timezone": timezone,
                    "points": 0,
                    "purchase_count": 0,
                    "total_spent": Decimal(0),
                    "attributes": {"home_store": store},
                    "created_at": now,
                    "updated_at": now,
                }
                for member_id, email, phone, first_name, locale, timezone, store in rows[
                    start : start + BULK_CHUNK
                ]
            ]
            connection.execute(insert(Member), values)


# ---------------------------------------------------------------------------------------------
# last_activity_at


def spread_activity(url: str, now: datetime) -> int:
    """One UPDATE: last activity between now and two years ago, by a hash of the id's digits."""
    epoch = int(now.timestamp())
    seconds_ago = f"((CAST(substr(id, 4) AS BIGINT) * {KNUTH}) % {TWO_YEARS_SECONDS})"
    if make_url(url).get_backend_name() == "sqlite":
        # The text format SQLAlchemy's SQLite DateTime writes and compares.
        value = f"strftime('%Y-%m-%d %H:%M:%S', {epoch} - {seconds_ago}, 'unixepoch') || '.000000'"
    else:
        value = f"to_timestamp({epoch} - {seconds_ago})"
    with get_engine(url).begin() as connection:
        return connection.execute(text(f"UPDATE member SET last_activity_at = {value}")).rowcount


# ---------------------------------------------------------------------------------------------
# Enrollments


def enroll_some(url: str, journey: Journey, as_of: datetime) -> int:
    """Running enrollments (entry 1, entered 10 days ago) for the members of the journey's
    segment whose id's digits are a multiple of ENROLLED_MODULUS: the re-entry rule keeps them
    out, so segment_page's NOT EXISTS finds a row for 5% of the members it reads."""
    assert journey.trigger.segment is not None
    condition = parse_condition(journey.trigger.segment, allow_event=False)
    entered_at = Enrollment.__table__.c.entered_at  # type: ignore[attr-defined]
    chosen = select(
        literal(journey.workflow_id("")) + col(Member.id),
        literal(journey.id),
        literal(journey.version),
        col(Member.id),
        literal(1),
        literal(as_of - timedelta(days=10), entered_at.type),
    ).where(
        prefilter(condition, as_of),
        cast(func.substr(col(Member.id), 4), BigInteger) % ENROLLED_MODULUS == 0,
    )
    columns = ["workflow_id", "journey_id", "journey_version", "member_id", "entry", "entered_at"]
    with get_engine(url).begin() as connection:
        connection.execute(insert(Enrollment).from_select(columns, chosen))
        # Counted: psycopg reports rowcount -1 for this INSERT … SELECT.
        count = (
            select(func.count())
            .select_from(Enrollment)
            .where(col(Enrollment.journey_id) == journey.id)
        )
        return connection.execute(count).scalar_one()


# ---------------------------------------------------------------------------------------------
# The sweep


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


class StatementLog:
    """Records the statements (and driver parameters) the engine sends, while enabled."""

    def __init__(self, engine: Engine) -> None:
        self.statements: list[tuple[str, Any]] = []
        self.enabled = False
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(
        self,
        _connection: Connection,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        if self.enabled:
            self.statements.append((statement, parameters))

    @contextmanager
    def capture(self) -> Iterator[list[tuple[str, Any]]]:
        self.statements = []
        self.enabled = True
        try:
            yield self.statements
        finally:
            self.enabled = False

    def page_query(self, prefix: str = PAGE_QUERY_PREFIX) -> tuple[str, Any]:
        for statement, parameters in self.statements:
            if statement.startswith(prefix):
                return statement, parameters
        raise LookupError("the page query was not seen; did emit_inactive or segment_page change?")


def request(
    as_of: datetime, buckets: list[int], cursor: str | None, limit: int
) -> SweepPageRequest:
    return SweepPageRequest(as_of=as_of, buckets_days=buckets, after_member_id=cursor, limit=limit)


# One page: the cursor in; the rows the page query returned, the events emitted (or members
# selected), and the next cursor out.
PageCall = Callable[[str | None], tuple[int, int, str | None]]


def run_pass(
    as_of: datetime,
    page: PageCall,
    on_page: Callable[[str], None],
    log: StatementLog | None = None,
) -> Pass:
    """Every page from the first; `log` captures the first page's statements."""
    result = Pass(as_of)
    cursor: str | None = None
    began = time.perf_counter()
    while True:
        page_began = time.perf_counter()
        if log is not None and result.pages == 0:
            with log.capture():
                scanned, emitted, cursor = page(None)
        else:
            scanned, emitted, cursor = page(cursor)
        result.page_seconds.append(time.perf_counter() - page_began)
        result.pages += 1
        result.page_rows.append(scanned)
        result.scanned += scanned
        result.emitted += emitted
        if cursor is None:
            break
        on_page(cursor)
    result.seconds = time.perf_counter() - began
    return result


def inactive_page(url: str, as_of: datetime, buckets: list[int], limit: int) -> PageCall:
    def page(cursor: str | None) -> tuple[int, int, str | None]:
        events, scanned, cursor = emit_inactive(url, request(as_of, buckets, cursor, limit))
        return scanned, len(events), cursor

    return page


def journey_page(url: str, journey: Journey, as_of: datetime, limit: int) -> PageCall:
    """segment_page: `emitted` is the members who match and may enter (none is started)."""

    def page(cursor: str | None) -> tuple[int, int, str | None]:
        members, scanned, cursor = segment_page(
            url,
            journey,
            SweepPageRequest(
                as_of=as_of, journey_id=journey.id, after_member_id=cursor, limit=limit
            ),
        )
        return scanned, len(members), cursor

    return page


def full_pass(
    url: str,
    as_of: datetime,
    buckets: list[int],
    limit: int,
    on_page: Callable[[str], None],
    log: StatementLog | None = None,
) -> Pass:
    """Every page through emit_inactive; `log` captures the first page's statements."""
    return run_pass(as_of, inactive_page(url, as_of, buckets, limit), on_page, log)


def sample_cursors(cursors: list[str], result: Pass) -> dict[str, str | None]:
    """The first, middle and last page with rows, by the cursor that leads to each."""
    samples: dict[str, str | None] = {"first": None}
    if cursors:
        # The last page may be empty: when the count is a multiple of the limit, the page
        # before it was full and returned a cursor.
        last = cursors[-1] if result.page_rows[-1] else cursors[-2] if len(cursors) > 1 else None
        samples |= {"middle": cursors[len(cursors) // 2], "last": last}
    return samples


def time_call(page: PageCall, cursor: str | None) -> float:
    """A whole page call, median of QUERY_REPEATS runs, seconds."""
    runs: list[float] = []
    for _ in range(QUERY_REPEATS):
        began = time.perf_counter()
        page(cursor)
        runs.append(time.perf_counter() - began)
    return statistics.median(runs)


def time_query(url: str, statement: str, parameters: Any) -> float:
    """The page query alone, rows fetched, median of QUERY_REPEATS runs, seconds."""
    runs: list[float] = []
    with get_engine(url).connect() as connection:
        for _ in range(QUERY_REPEATS):
            began = time.perf_counter()
            connection.exec_driver_sql(statement, parameters).all()
            runs.append(time.perf_counter() - began)
        connection.rollback()
    return statistics.median(runs)


def explain(url: str, statement: str, parameters: Any) -> str:
    sqlite = make_url(url).get_backend_name() == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    with get_engine(url).connect() as connection:
        rows = connection.exec_driver_sql(prefix + statement, parameters).all()
        connection.rollback()
    if sqlite:  # (id, parent, notused, detail)
        depth = {0: -1}
        lines = []
        for node, parent, _, detail in rows:
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + str(detail))
        return "\n".join(lines)
    return "\n".join(str(row[0]) for row in rows)


# ---------------------------------------------------------------------------------------------
# One database


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


def sweep_database(url: str, database: str, csv_path: Path, options: argparse.Namespace) -> Outcome:
    outcome = Outcome(database, options.members)
    upgrade_database(url)
    settings = Settings(home=csv_path.parent / database, database_url=url)
    importer_rows = min(options.import_rows or options.members, options.members)
    source, rest = csv_path, []
    if importer_rows < options.members:
        source = csv_path.parent / "head.csv"
        rest = split_csv(csv_path, source, importer_rows)

    console.print(f"  importing {importer_rows:,} members with the importer …")
    began = time.perf_counter()
    report = import_members(settings, source)
    outcome.import_seconds = time.perf_counter() - began
    outcome.imported_rows = report.rows
    outcome.import_report = {**report.counts(), "rejected": report.rejected}
    if report.rejected:
        console.print(f"[yellow]  {report.rejected} rows rejected, e.g. {report.rejections[0]}")
    console.print(
        f"  importer: {report.rows:,} rows in {outcome.import_seconds:.1f}s "
        f"({report.rows / outcome.import_seconds:,.0f} rows/s)"
    )
    if rest:
        console.print(f"  bulk-loading the other {len(rest):,} members (multi-row INSERT) …")
        began = time.perf_counter()
        bulk_insert(url, rest)
        outcome.bulk_seconds = time.perf_counter() - began
        outcome.bulk_rows = len(rest)

    now = datetime.now(UTC).replace(microsecond=0)
    began = time.perf_counter()
    updated = spread_activity(url, now)
    outcome.update_seconds = time.perf_counter() - began
    console.print(f"  last_activity_at set on {updated:,} members in {outcome.update_seconds:.1f}s")
    if database == "postgresql":
        # Autovacuum would do this within a minute or so; done here so the plan does not
        # depend on when it ran.
        with get_engine(url).begin() as connection:
            connection.execute(text("ANALYZE member"))

    buckets = list(rules_from(settings.loyalty_rules_file).inactivity.buckets_days)
    limit = options.page_size
    log = StatementLog(get_engine(url))
    cursors: list[str] = []
    console.print("  full pass …")
    first = full_pass(url, now, buckets, limit, cursors.append, log)
    log.page_query()  # the first page did run the query we expect
    outcome.first_page_seconds = first.page_seconds[0]
    outcome.passes.append(first)
    console.print(
        f"  full pass: {first.pages} pages in {first.seconds:.1f}s; "
        f"first page (emit_inactive) {outcome.first_page_seconds * 1000:.1f} ms"
    )

    # The page query alone, at the first, middle and last page: the SQL and the driver
    # parameters emit_inactive sends, captured again (it emits nothing now: all stored).
    for name, cursor in sample_cursors(cursors, first).items():
        with log.capture():
            emit_inactive(url, request(now, buckets, cursor, limit))
        statement, parameters = log.page_query()
        outcome.statements[name] = statement
        outcome.queries[name] = time_query(url, statement, parameters)
        outcome.plans[name] = explain(url, statement, parameters)
    if not options.no_repeat:
        console.print("  second full pass, one day later …")
        outcome.passes.append(full_pass(url, now + timedelta(days=1), buckets, limit, _ignore))

    # The same first-page query when few members (or none) are idle that long: the query walks
    # the primary key in order and filters, so the fewer match, the more rows it reads.
    for days in PROBE_DAYS:
        name = f"first, {days}d"
        with log.capture():
            _, scanned, _ = emit_inactive(url, request(now, [days], None, limit))
        statement, parameters = log.page_query()
        outcome.statements[name] = statement
        outcome.queries[name] = time_query(url, statement, parameters)
        outcome.plans[name] = explain(url, statement, parameters)
        outcome.probe_rows[name] = scanned
        console.print(f"  page query, {days}d bucket: {outcome.queries[name] * 1000:.1f} ms")

    segment_sweep(url, database, now, limit, first, outcome, log)
    return outcome


def segment_sweep(
    url: str,
    database: str,
    now: datetime,
    limit: int,
    inactivity: Pass,
    outcome: Outcome,
    log: StatementLog,
) -> None:
    """The reactivation journey's segment pass over the same members, with some enrolled."""
    journey = get_catalog(Settings(_env_file=None)).journeys[SEGMENT_JOURNEY]
    began = time.perf_counter()
    outcome.enrollments = enroll_some(url, journey, now)
    outcome.enroll_seconds = time.perf_counter() - began
    if database == "postgresql":
        with get_engine(url).begin() as connection:
            connection.execute(text("ANALYZE enrollment"))
    # The inactivity pass read every member idle for 90 days or more (its smallest bucket).
    outcome.segment_expected = inactivity.scanned - outcome.enrollments
    console.print(
        f"  {outcome.enrollments:,} running {SEGMENT_JOURNEY} enrollments inserted in "
        f"{outcome.enroll_seconds:.1f}s; {SEGMENT_JOURNEY} segment pass …"
    )
    page = journey_page(url, journey, now, limit)
    cursors: list[str] = []
    result = run_pass(now, page, cursors.append, log)
    log.page_query(SEGMENT_QUERY_PREFIX)
    outcome.segment_pass = result
    console.print(
        f"  segment pass: {result.pages} pages, {result.emitted:,} members selected "
        f"(expected {outcome.segment_expected:,}) in {result.seconds:.1f}s"
    )
    for name, cursor in sample_cursors(cursors, result).items():
        with log.capture():
            page(cursor)
        statement, parameters = log.page_query(SEGMENT_QUERY_PREFIX)
        outcome.segment_statements[name] = statement
        outcome.segment_queries[name] = time_query(url, statement, parameters)
        outcome.segment_calls[name] = time_call(page, cursor)
        outcome.segment_plans[name] = explain(url, statement, parameters)
        console.print(
            f"  segment page query, {name} page: {outcome.segment_queries[name] * 1000:.1f} ms; "
            f"segment_page: {outcome.segment_calls[name] * 1000:.1f} ms"
        )


def _ignore(_cursor: str) -> None:
    pass


@contextmanager
def database_url(database: str, directory: Path) -> Iterator[str]:
    if database == "sqlite":
        yield f"sqlite:///{directory / 'sweep.db'}"
        return
    admin = create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
        url = make_url(PG_BASE_URL).update_query_dict({"options": f"-csearch_path={PG_SCHEMA}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        admin.dispose()


# ---------------------------------------------------------------------------------------------
# Report


def report(outcomes: Sequence[Outcome], options: argparse.Namespace) -> dict[str, Any]:
    table = Table(
        title=f"inactivity sweep over {options.members:,} members, pages of {options.page_size}",
        caption=(
            "import: loyalflow's importer; first page: emit_inactive (query, duplicate check, "
            "inserts, commit); query: the page query alone, median of "
            f"{QUERY_REPEATS}; pass: every page through emit_inactive, no routing; "
            f"target: page query < {TARGET_QUERY_SECONDS:.0f} s"
        ),
    )
    columns = ["db", "import rows/s", "first page ms", "query ms first/mid/last"]
    columns += [f"query ms {'/'.join(str(d) for d in PROBE_DAYS)}d"]
    columns += [
        "pass s",
        "pages",
        "emitted",
        "page p50/p99/max ms",
        "next day s",
        "next day emitted",
    ]
    for column in columns:
        table.add_column(column, justify="left" if column == "db" else "right")
    for outcome in outcomes:
        s = outcome.summary()
        first = s["passes"][0]
        again = s["passes"][1] if len(s["passes"]) > 1 else {}
        table.add_row(
            outcome.database,
            f"{s['importer_rows_per_second']:,}",
            f"{s['first_page_emit_inactive_ms']:.0f}",
            "/".join(f"{v:.1f}" for k, v in s["page_query_ms"].items() if not k.endswith("d")),
            "/".join(f"{v:.1f}" for k, v in s["page_query_ms"].items() if k.endswith("d")),
            f"{first['seconds']:.1f}",
            str(first["pages"]),
            f"{first['emitted']:,}",
            f"{first['page_p50_ms']:.0f}/{first['page_p99_ms']:.0f}/{first['page_max_ms']:.0f}",
            f"{again['seconds']:.1f}" if again else "",
            f"{again['emitted']:,}" if again else "",
        )
    console.print(table)
    console.print(segment_table(outcomes, options))
    for outcome in outcomes:
        for name, plan in outcome.plans.items():
            console.print(f"[bold]{outcome.database}[/bold], {name} page: plan", plan, sep="\n")
        for name, plan in outcome.segment_plans.items():
            console.print(
                f"[bold]{outcome.database}[/bold], {SEGMENT_JOURNEY} segment, {name} page: plan",
                plan,
                sep="\n",
            )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", *sys.argv]),
        "nproc": len(os.sched_getaffinity(0)),
        "options": vars(options),
        "target_query_seconds": TARGET_QUERY_SECONDS,
        "databases": [outcome.summary() for outcome in outcomes],
    }


def segment_table(outcomes: Sequence[Outcome], options: argparse.Namespace) -> Table:
    table = Table(
        title=(
            f"{SEGMENT_JOURNEY} segment sweep over {options.members:,} members, "
            f"pages of {options.page_size}"
        ),
        caption=(
            "enrolled: running enrollments inserted (5% of the segment); query: segment_page's "
            f"page query alone, median of {QUERY_REPEATS}; x inactivity: that / the inactivity "
            "page query at the same position, same run; call: segment_page (query + evaluation), "
            f"median of {QUERY_REPEATS}; pass: every page through segment_page, no journey starts"
        ),
    )
    columns = ["db", "enrolled", "query ms first/mid/last", "x inactivity first/mid/last"]
    columns += ["call ms first/mid/last", "pass s", "pages", "selected", "page p50/p99/max ms"]
    for column in columns:
        table.add_column(column, justify="left" if column == "db" else "right")
    for outcome in outcomes:
        segment = outcome.summary()["segment"]
        full = segment["pass"]
        if full is None:
            continue
        table.add_row(
            outcome.database,
            f"{segment['enrollments']:,}",
            "/".join(f"{v:.1f}" for v in segment["page_query_ms"].values()),
            "/".join(f"{v:.1f}" for v in segment["page_query_ratio_to_inactivity"].values()),
            "/".join(f"{v:.0f}" for v in segment["segment_page_ms"].values()),
            f"{full['seconds']:.1f}",
            str(full["pages"]),
            f"{full['emitted']:,} (expected {segment['expected_matches']:,})",
            f"{full['page_p50_ms']:.0f}/{full['page_p99_ms']:.0f}/{full['page_max_ms']:.0f}",
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--import-rows", type=int, help="rows through the importer (default: all); rest: bulk"
    )
    parser.add_argument("--page-size", type=int, default=500, help="the sweep's page size")
    parser.add_argument("--no-repeat", action="store_true", help="skip the next-day pass")
    options = parser.parse_args()
    if options.members < 2 or options.page_size < 1:
        parser.error("need --members >= 2 and --page-size >= 1")
    RESULTS_DIR.mkdir(exist_ok=True)
    databases = ["sqlite", "postgresql"] if options.db == "both" else [options.db]
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="loyalflow-bench-sweep-") as tmp:
        directory = Path(tmp)
        csv_path = directory / "members.csv"
        began = time.perf_counter()
        generate_csv(csv_path, options.members)
        console.print(
            f"generated {csv_path} ({csv_path.stat().st_size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - began:.1f}s"
        )
        for database in databases:
            console.print(f"[bold]{database}[/bold]")
            with database_url(database, directory) as url:
                outcomes.append(sweep_database(url, database, csv_path, options))
                get_engine(url).dispose()
    summary = report(outcomes, options)
    path = RESULTS_DIR / f"sweep-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    console.print(f"written to {path}")


if __name__ == "__main__":
    main()
