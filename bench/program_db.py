"""Where the report and console benchmarks keep their generated program: a PostgreSQL schema
`bench_report_<members>` of `LOYALFLOW_BENCH_DATABASE_URL` (default the local `test` database),
or a SQLite file bench/results/report-<members>.db. `keep` leaves it for a later run, which
`reuse` takes as it is, after migrating it (a newer migration may add a table or an index).

A program kept before the welcome journey's runs were part of it gets them added (`top_up`).
"""

import argparse
import contextlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from report_data import Sql, generate_program, ledger_statements, member_counters
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from welcome_runs import WelcomeSql, welcome_message_count, welcome_runs

from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.members import activity_months, purchase_previous
from loyalflow.models.db import get_engine, upgrade_database

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_report"


def add_program_options(parser: argparse.ArgumentParser) -> None:
    """The generated program's size, and whether to keep it or reuse a kept one."""
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    parser.add_argument("--reuse", action="store_true", help="use data kept by an earlier run")


def program_of(
    kind: str, options: argparse.Namespace, log: Callable[[str], None]
) -> "contextlib.AbstractContextManager[str]":
    """`program_database` for the options of `add_program_options`."""
    return program_database(
        kind,
        options.members,
        options.events,
        options.messages,
        keep=options.keep,
        reuse=options.reuse,
        log=log,
    )


@contextmanager
def program_database(
    kind: str,
    members: int,
    events: int,
    messages: int,
    *,
    keep: bool,
    reuse: bool,
    log: Callable[[str], None] = print,
) -> Iterator[str]:
    """A migrated database holding the generated program of that size."""
    with _location(kind, members, keep, reuse) as (url, filled):
        upgrade_database(url)
        if filled:
            log(f"reusing the program kept in {kind}")
            top_up(url, members, messages, log)
        else:
            log(f"generating {members:,} members, {events:,} events, {messages:,} messages")
            generate_program(url, members, events, messages, log=log)
        yield url


def top_up(url: str, members: int, messages: int, log: Callable[[str], None]) -> None:
    """Adds the welcome journey's runs to a program generated without them; nothing otherwise."""
    engine = get_engine(url)
    with engine.connect() as connection:
        if connection.execute(text("SELECT 1 FROM enrollment LIMIT 1")).first() is not None:
            return
    begun = time.monotonic()
    now = datetime.now(UTC)
    welcome = get_catalog(Settings(_env_file=None)).journeys["welcome"]
    generic = max(0, messages - welcome_message_count(members))
    with engine.begin() as connection:
        # Generic messages were once named `welcome` (now `birthday`, as report_data names
        # them); and the total stays at `messages`.
        connection.execute(
            text(
                "UPDATE message SET journey_id = 'birthday', template = 'birthday',"
                " workflow_id = replace(workflow_id, 'journey-welcome-', 'journey-birthday-')"
                " WHERE message_id LIKE 'msg%' AND journey_id = 'welcome'"
            )
        )
        connection.execute(
            text(
                "DELETE FROM message WHERE message_id LIKE 'msg%'"
                " AND CAST(substr(message_id, 4) AS INTEGER) > :generic"
            ),
            {"generic": generic},
        )
        for statement in welcome_runs(WelcomeSql(engine.dialect.name, now), welcome, members):
            connection.execute(text(statement))
        sql = Sql(engine.dialect.name, now)
        for statement in ledger_statements(sql, "event_id LIKE 'gp%'"):
            connection.execute(text(statement))
        for statement in member_counters(sql):
            connection.execute(text(statement))
        activity_months.rebuild(connection)
        purchase_previous.rebuild(connection)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    log(f"  welcome runs added in {time.monotonic() - begun:.0f} s")


@contextmanager
def _location(kind: str, members: int, keep: bool, reuse: bool) -> Iterator[tuple[str, bool]]:
    """(url, already filled)."""
    if kind == "sqlite":
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"report-{members}.db"
        filled = reuse and path.exists()
        if not filled:
            for leftover in RESULTS_DIR.glob(f"report-{members}.db*"):
                leftover.unlink()
        url = f"sqlite:///{path}"
        try:
            yield url, filled
        finally:
            get_engine(url).dispose()
            if not keep:
                for leftover in RESULTS_DIR.glob(f"report-{members}.db*"):
                    leftover.unlink()
        return
    base = os.environ.get("LOYALFLOW_BENCH_DATABASE_URL", DEFAULT_PG)
    schema = f"{SCHEMA}_{members}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"), {"s": schema}
        ).first()
        filled = reuse and exists is not None
        if not filled:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = (
        make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    try:
        yield url, filled
    finally:
        get_engine(url).dispose()
        if not keep:
            with admin.connect() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
