"""`timestamp + N seconds` in SQL, exactly, on PostgreSQL and SQLite.

SQLAlchemy has no portable timestamp + interval: PostgreSQL adds an interval; SQLite stores
`YYYY-MM-DD HH:MM:SS.ffffff` text (every loyalflow timestamp, see `UTCDateTime`), so the sum is
`strftime` of the whole seconds with the stored fraction put back, which compares as text with
the stored values exactly (SQLite's `datetime()` would drop the microseconds).
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from loyalflow.models.column_types import UTCDateTime


class _PlusSeconds(FunctionElement[datetime]):
    name = "plus_seconds"
    type = UTCDateTime()
    inherit_cache = True


@compiles(_PlusSeconds)
def _interval(element: _PlusSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    moment, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return f"({moment} + {seconds} * interval '1 second')"


@compiles(_PlusSeconds, "sqlite")
def _sqlite(element: _PlusSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    moment, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', {moment}, '+' || {seconds} || ' seconds')"
        f" || substr({moment}, 20))"
    )


def plus(moment: Any, duration: timedelta) -> ColumnElement[datetime]:
    """`moment` (a timestamp column or expression) + `duration`; durations in journeys are whole
    seconds (a fraction is dropped)."""
    return _PlusSeconds(moment, literal(int(duration.total_seconds())))
