"""A report's queries, read from one snapshot of the database, several at a time on PostgreSQL.

PostgreSQL runs each query on one backend (plus a few parallel workers for some plans), so a
report of independent sections waits for them one after another. Here a leader transaction
exports its snapshot (`pg_export_snapshot`, what `pg_dump --jobs` does) and each section runs on
its own connection in a transaction that imports it: every section sees the same database state,
as if they ran in one REPEATABLE READ transaction, and `parallel` of them run at once. SQLite
reads are one file read by one process: there the sections run one after another in one read
transaction, the same figures.
"""

import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, text

from loyalflow.models.db import get_engine, read_scope

T = TypeVar("T")
Section = Callable[[Connection], Any]

# The cohort table's and RFM's groupings hash millions of rows at 1M members; in the default
# 4 MB they spill to disk. Per transaction: these reads only.
KPI_SETTINGS = {"work_mem": "256MB"}
# Sections at once: two keep a 2-core database busy (bench/README.md: a third only queues).
DEFAULT_PARALLEL = 2
_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$")


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
    if engine.dialect.name != "postgresql" or parallel <= 1:
        with read_scope(url) as session:
            connection = session.connection()
            _tune(connection, settings)
            yield Reads(lambda section: _done(section, connection))
        return
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
