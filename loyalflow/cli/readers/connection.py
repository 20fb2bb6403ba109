"""A DB-API connection from loyalflow's database URL (SQLAlchemy's form), without SQLAlchemy."""

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

SQLITE_PREFIX = "sqlite:///"
SQLITE_BUSY_SECONDS = 15  # like models/db.py: wait for a writer's turn rather than fail


class Cursor(Protocol):
    def execute(self, query: Any, params: Any = ..., /) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Reader:
    """One read-only connection; `params` spells placeholders for the driver (`?` or `%s`)."""

    def __init__(self, cursor: Cursor, placeholder: str) -> None:
        self._cursor = cursor
        self._placeholder = placeholder

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """`sql` uses `?` for parameters on every backend."""
        self._cursor.execute(sql.replace("?", self._placeholder), params)
        return [tuple(row) for row in self._cursor.fetchall()]

    def row(self, sql: str, *params: object) -> tuple[Any, ...] | None:
        found = self.rows(sql, *params)
        return found[0] if found else None


@contextmanager
def read_database(url: str) -> Iterator[Reader]:
    """SQLite (`sqlite:///path`) or PostgreSQL (`postgresql[+driver]://...`), read only."""
    if url.startswith(SQLITE_PREFIX):
        path = Path(url.removeprefix(SQLITE_PREFIX))
        path.parent.mkdir(parents=True, exist_ok=True)  # as the engine does: "run migrate" next
        with closing(sqlite3.connect(path, timeout=SQLITE_BUSY_SECONDS)) as connection:
            yield Reader(connection.cursor(), "?")
        return
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ValueError(f"unsupported database URL scheme {scheme!r}")
    import psycopg  # only PostgreSQL users pay for it

    with psycopg.connect(f"postgresql://{rest}") as connection:
        connection.read_only = True
        yield Reader(connection.cursor(), "%s")


def utc(value: datetime | str | None) -> datetime | None:
    """An aware UTC datetime: SQLite hands back the text SQLAlchemy stored (naive UTC)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
