"""Database engine, sessions and schema migration (Alembic is the only way the schema changes)."""

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API and the worker read while the other writes; busy_timeout makes writers
    # queue instead of failing with "database is locked".
    dbapi_connection.isolation_level = None  # transactions are begun by _begin_immediate
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


READ_ONLY = "loyalflow_read_only"
SQLITE_LOCK_SECONDS = 15
_TURN_POLL_SECONDS = 0.001


class SqliteWriteQueue:
    """Gives SQLite write transactions their turn promptly, across threads and processes.

    A deferred SQLite transaction that reads a member and then writes fails with
    SQLITE_BUSY_SNAPSHOT when another writer committed in between, so writes take the lock up
    front (BEGIN IMMEDIATE; PostgreSQL uses row locks instead). Left to SQLite's busy timeout,
    a waiting writer sleeps and polls, up to 100 ms apart, and the lock sits idle between
    holders: under load, most of the API's and the worker's database time went to that
    polling. Here a writer first takes this process's lock (threads hand it over at once), then
    an advisory lock on `<database>-writer.lock` shared by every loyalflow process on the
    same file (polled every millisecond by one thread per process), and only then BEGIN
    IMMEDIATE, which SQLite grants at once. Read-only sessions (`read_scope`) take no lock:
    WAL readers never wait.
    """

    def __init__(self, database: Path | None) -> None:
        self._lock = threading.Lock()
        self._held: set[int] = set()  # ids of connections in a write transaction
        self._lock_path = database.with_name(database.name + "-writer.lock") if database else None
        self._file: tuple[int, int] | None = None  # (pid, fd): a forked child opens its own

    def begin(self, connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
            return
        deadline = time.monotonic() + SQLITE_LOCK_SECONDS
        if not self._lock.acquire(timeout=SQLITE_LOCK_SECONDS):
            raise _no_turn()
        try:
            self._lock_file(deadline)
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                self._unlock_file()
                raise
        except BaseException:
            self._lock.release()
            raise
        self._held.add(id(connection))

    def end(self, connection: Connection) -> None:
        if id(connection) in self._held:
            self._held.discard(id(connection))
            self._unlock_file()
            self._lock.release()

    def _fd(self) -> int | None:
        if self._lock_path is None:
            return None
        if self._file is None or self._file[0] != os.getpid():
            self._file = (os.getpid(), os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600))
        return self._file[1]

    def _lock_file(self, deadline: float) -> None:
        fd = self._fd()
        if fd is None:
            return
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise _no_turn() from None
                time.sleep(_TURN_POLL_SECONDS)

    def _unlock_file(self) -> None:
        fd = self._fd()
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)


def _no_turn() -> OperationalError:
    return OperationalError(
        "BEGIN IMMEDIATE",
        None,
        TimeoutError(f"no write turn on the SQLite database in {SQLITE_LOCK_SECONDS}s"),
    )


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_LOCK_SECONDS},
        )
        on_disk = parsed.database not in (None, "", ":memory:")
        writes = SqliteWriteQueue(Path(parsed.database) if on_disk and parsed.database else None)
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", writes.begin)
        event.listen(engine, "commit", writes.end)
        event.listen(engine, "rollback", writes.end)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def upsert_into(dialect: str, table: Table) -> Any:
    """`INSERT` for `table` with the dialect's `ON CONFLICT` clauses (the two databases spell
    the statement alike, but SQLAlchemy builds it from each dialect's own construct)."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def connection_scope(url: str) -> Iterator[Connection]:
    """One transaction on a bare connection, for SQLAlchemy Core statements: on the hot paths
    (a journey's progress, its A/B assignment) the ORM's unit of work costs more than the SQL."""
    with get_engine(url).begin() as connection:
        yield connection


@contextmanager
def read_scope(url: str) -> Iterator[Session]:
    """A transaction that only reads: on SQLite it never queues behind writers."""
    engine = get_engine(url).execution_options(**{READ_ONLY: True})
    with Session(engine, expire_on_commit=False) as session:
        yield session


# Alembic is imported where it is used: commands that only read and write rows start faster.
def alembic_config(url: str) -> "Config":
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), "head")


class SchemaNotCurrent(RuntimeError):
    pass


def assert_schema_current(url: str) -> None:
    """Workers and the API refuse to run on an unmigrated database rather than fail later."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    with get_engine(url).connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        raise SchemaNotCurrent(
            f"database {make_url(url).render_as_string(hide_password=True)} is at schema "
            f"revision {current or 'none'}, expected {head}: run `loyalflow migrate`"
        )
