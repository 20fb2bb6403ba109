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
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import (
    create_engine,
    text,
)
from sqlalchemy.engine import make_url
from stack import RESULTS_DIR
from sweep_data import (
    FIRST_NAMES,
    bulk_insert,
    enroll_some,
    generate_csv,
    split_csv,
    spread_activity,
)
from sweep_measure import (
    StatementLog,
    explain,
    full_pass,
    journey_page,
    request,
    run_pass,
    sample_cursors,
    time_call,
    time_query,
)
from sweep_report import report
from sweep_shapes import (
    PG_BASE_URL,
    PG_SCHEMA,
    PROBE_DAYS,
    SEGMENT_JOURNEY,
    SEGMENT_QUERY_PREFIX,
    Outcome,
    Pass,
    console,
)

from loyalflow.activities.segments import emit_inactive
from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.members.importer import import_members
from loyalflow.models.db import get_engine, upgrade_database
from loyalflow.rules.loyalty import rules_from

FIRST_NAMES += ["Jonas", "Kenza", "Léa", "Mateo", "Nora", "Omar", "Paula", "Quentin", "Rosa"]


# ---------------------------------------------------------------------------------------------
# The member file


# ---------------------------------------------------------------------------------------------
# last_activity_at


# ---------------------------------------------------------------------------------------------
# Enrollments


# ---------------------------------------------------------------------------------------------
# The sweep


# ---------------------------------------------------------------------------------------------
# One database


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
