"""A report's queries, read from one snapshot of the database, several at a time on PostgreSQL.

PostgreSQL runs each query on one backend (plus a few parallel workers for some plans), so a
report of independent sections waits for them one after another. Here a leader transaction
exports its snapshot (`pg_export_snapshot`, what `pg_dump --jobs` does) and each section runs on
its own connection in a transaction that imports it: every section sees the same database state,
as if they ran in one REPEATABLE READ transaction, and `parallel` of them run at once.

SQLite's WAL readers each read the snapshot of the moment their transaction first reads, and
SQLite releases the GIL while it steps a query: `parallel` connections begin their reads one
after another, and a connection outside any transaction checks with `PRAGMA data_version` that no
write committed meanwhile (else they begin again), so they share one snapshot too. An in-memory
database, or a report that asks for one connection, reads its sections one after another in one
read transaction: the same figures.
"""

import queue
import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text

from loyalflow.models.db import READ_ONLY, get_engine, read_scope

T = TypeVar("T")
Section = Callable[[Connection], Any]

# The cohort table's and RFM's groupings hash millions of rows at 1M members; in the default
# 4 MB they spill to disk. No parallel workers: the report's own connections keep the cores busy,
# and workers one section starts take the core of another (bench/README.md, session 9: 4.2-4.3 s
# without, 5.1-5.3 s with, on 2 cores). Per transaction: these reads only.
KPI_SETTINGS = {"work_mem": "256MB", "max_parallel_workers_per_gather": "0"}
# Sections at once: two keep a 2-core database busy (bench/README.md: a third only queues).
DEFAULT_PARALLEL = 2
_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$")
# SQLite: attempts at beginning every connection's read between two commits, before the sections
# fall back to one connection (a write commits every few milliseconds only under heavy ingest).
SQLITE_SNAPSHOT_ATTEMPTS = 5


class Reads:
    """Runs sections (functions of a connection) on the report's snapshot."""

    def __init__(self, run: Callable[[Section], "Future[Any]"]) -> None:
        self._run = run

    def submit(self, section: Callable[[Connection], T]) -> "Future[T]":
        return self._run(section)


@contextmanager
def report_reads(
    url: str, parallel: int = DEFAULT_PARALLEL, settings: Mapping[str, str] = KPI_SETTINGS
) -> Iterator[Reads]:
    """`settings`: PostgreSQL settings for the reads' transactions (SET LOCAL)."""
    engine = get_engine(url)
    if parallel > 1 and engine.dialect.name == "postgresql":
        with _postgresql_reads(engine, parallel, settings) as reads:
            yield reads
        return
    if parallel > 1 and _sqlite_file(engine):
        with ExitStack() as stack:
            connections = _sqlite_snapshot(engine, parallel, stack)
            if connections:
                with _sections_on(connections) as reads:
                    yield reads
                return
    with read_scope(url) as session:
        connection = session.connection()
        _tune(connection, settings)
        yield Reads(lambda section: _done(section, connection))


@contextmanager
def _postgresql_reads(
    engine: Engine, parallel: int, settings: Mapping[str, str]
) -> Iterator[Reads]:
    repeatable = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    with engine.connect().execution_options(**repeatable) as leader, leader.begin():
        snapshot = str(leader.execute(text("SELECT pg_export_snapshot()")).scalar_one())
        if not _SNAPSHOT_ID.match(snapshot):  # interpolated below: SET takes no parameters
            raise RuntimeError(f"unexpected snapshot id {snapshot!r}")

        def on_snapshot(section: Section) -> Any:
            with engine.connect().execution_options(**repeatable) as connection, connection.begin():
                connection.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
                _tune(connection, settings)
                return section(connection)

        # The leader's transaction stays open until every section has imported the snapshot
        # (leaving the pool waits for the sections).
        with ThreadPoolExecutor(parallel, thread_name_prefix="report") as pool:
            yield Reads(lambda section: pool.submit(on_snapshot, section))


def _sqlite_file(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")


def _sqlite_snapshot(engine: Engine, parallel: int, stack: ExitStack) -> list[Connection]:
    """`parallel` connections in read transactions on one snapshot (closed with `stack`), or
    none if writes kept committing between their beginnings."""
    readers = engine.execution_options(**{READ_ONLY: True})
    probe = engine.raw_connection()  # in autocommit (db._configure_sqlite): no snapshot of its own
    try:
        for _ in range(SQLITE_SNAPSHOT_ATTEMPTS):
            before = _data_version(probe)
            with ExitStack() as attempt:
                connections = [attempt.enter_context(readers.connect()) for _ in range(parallel)]
                for connection in connections:
                    connection.begin()
                    # Reading a table is what takes the snapshot (BEGIN alone does not).
                    connection.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
                if _data_version(probe) == before:  # no commit since before the first began
                    stack.push(attempt.pop_all())
                    return connections
    finally:
        probe.close()
    return []


def _data_version(probe: Any) -> int:
    """Changes whenever another connection commits (SQLite's `PRAGMA data_version`)."""
    return int(probe.cursor().execute("PRAGMA data_version").fetchone()[0])


@contextmanager
def _sections_on(connections: list[Connection]) -> Iterator[Reads]:
    """Each section on whichever of `connections` is free, as many at once as there are."""
    free: queue.SimpleQueue[Connection] = queue.SimpleQueue()
    for connection in connections:
        free.put(connection)

    def on_free_connection(section: Section) -> Any:
        connection = free.get()  # never waits: the pool runs as many sections as connections
        try:
            return section(connection)
        finally:
            free.put(connection)

    with ThreadPoolExecutor(len(connections), thread_name_prefix="report") as pool:
        yield Reads(lambda section: pool.submit(on_free_connection, section))


def _tune(connection: Connection, settings: Mapping[str, str]) -> None:
    if connection.dialect.name == "postgresql":
        for name, value in settings.items():  # names and values of this package, not input
            connection.execute(text(f"SET LOCAL {name} = '{value}'"))


def _done(section: Section, connection: Connection) -> "Future[Any]":
    """Runs `section` now; its result (or error) as a completed future."""
    future: Future[Any] = Future()
    try:
        future.set_result(section(connection))
    except BaseException as error:  # the caller's `result()` raises it, as a pool would
        future.set_exception(error)
    return future
