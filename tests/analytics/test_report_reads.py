"""A report's sections run at once and all read the database as it was when the report began,
on SQLite (WAL readers begun between two commits) and PostgreSQL (an exported snapshot)."""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from loyalflow.analytics import report_reads as reads_module
from loyalflow.analytics.report_reads import report_reads
from loyalflow.models.db import get_engine


@pytest.fixture
def counted(own_database_url: str) -> Iterator[str]:
    """`own_database_url` with a table of 3 rows that the tests add to."""
    with get_engine(own_database_url).begin() as connection:
        connection.execute(text("CREATE TABLE read_probe (id INTEGER)"))
        connection.execute(text("INSERT INTO read_probe VALUES (1), (2), (3)"))
    yield own_database_url
    with get_engine(own_database_url).begin() as connection:
        connection.execute(text("DROP TABLE read_probe"))


def _rows(connection: Connection) -> int:
    return int(connection.execute(text("SELECT count(*) FROM read_probe")).scalar_one())


def _add_row(url: str) -> None:
    with get_engine(url).begin() as connection:
        connection.execute(text("INSERT INTO read_probe VALUES (4)"))


def test_sections_run_at_once_on_the_snapshot_of_the_start(counted: str) -> None:
    together = threading.Barrier(2, timeout=20)  # broken (an error) unless both run at once

    def section(connection: Connection) -> tuple[int, str]:
        together.wait()
        return _rows(connection), threading.current_thread().name

    with report_reads(counted, parallel=2) as reads:
        _add_row(counted)  # committed after the report began: no section sees it
        futures = [reads.submit(section) for _ in range(2)]
        results = [future.result() for future in futures]
        later = reads.submit(_rows).result()
    assert [rows for rows, _ in results] == [3, 3]
    assert later == 3
    assert len({thread for _, thread in results}) == 2
    with get_engine(counted).connect() as connection:
        assert _rows(connection) == 4


def test_sqlite_reads_on_one_connection_when_writes_keep_committing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = f"sqlite:///{tmp_path / 'probe.db'}"
    with get_engine(counted).begin() as connection:
        connection.execute(text("CREATE TABLE read_probe (id INTEGER)"))
        connection.execute(text("INSERT INTO read_probe VALUES (1), (2), (3)"))
    versions = iter(range(1_000))  # a commit between every two probes
    monkeypatch.setattr(reads_module, "_data_version", lambda _probe: next(versions))
    with report_reads(counted, parallel=2) as reads:
        first = reads.submit(_rows).result()
        _add_row(counted)
        threads = {reads.submit(lambda _c: threading.current_thread().name).result()}
        second = reads.submit(_rows).result()
    assert (first, second) == (3, 3)  # one transaction: the snapshot of its first read
    assert threads == {threading.current_thread().name}
    assert next(versions) == 2 * reads_module.SQLITE_SNAPSHOT_ATTEMPTS
