"""How bench/sweep.py times a sweep: full passes over the pages, statement logs, sampled cursors, single queries and their plans."""

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    event,
)
from sqlalchemy.engine import make_url
from sweep_shapes import PAGE_QUERY_PREFIX, QUERY_REPEATS, PageCall, Pass

from loyalflow.activities.segments import emit_inactive, segment_page
from loyalflow.models.db import get_engine
from loyalflow.models.journey import Journey
from loyalflow.models.workflow_io import SweepPageRequest


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
