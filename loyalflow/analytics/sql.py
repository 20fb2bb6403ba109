"""SQL building blocks the KPI queries share, written once for SQLite and PostgreSQL alike.

Time bounds are computed in Python and bound as parameters (aware UTC, through the columns'
own type), so no query does date arithmetic that the two databases spell differently; the one
exception, a timestamp's calendar month, is `month_index` below.
"""

import calendar
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlmodel import SQLModel

from loyalflow.models.points_tables import PointsLedger
from loyalflow.models.tables import Event, Member

member = SQLModel.metadata.tables[str(Member.__tablename__)]
event = SQLModel.metadata.tables[str(Event.__tablename__)]
ledger = SQLModel.metadata.tables[str(PointsLedger.__tablename__)]

# What the member did themselves, as `members.state.MEMBER_ACTIVITY` counts it for
# `last_activity_at` (a test keeps the two equal; analytics may not import members).
ACTIVITY_TYPES = ("member.joined", "purchase", "visit")
CENT = Decimal("0.01")
NO_GROUP = "(none)"


class month_index(FunctionElement[int]):
    """year * 12 + month of a UTC timestamp: months between two instants by subtraction."""

    type = sa.Integer()
    inherit_cache = True


@compiles(month_index, "sqlite")
def _month_index_sqlite(element: month_index, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC: the first characters are the month.
    arg = compiler.process(next(iter(element.clauses)), **kw)
    return f"(CAST(substr({arg}, 1, 4) AS INTEGER) * 12 + CAST(substr({arg}, 6, 2) AS INTEGER))"


@compiles(month_index, "postgresql")
def _month_index_postgresql(element: month_index, compiler: SQLCompiler, **kw: Any) -> str:
    arg = compiler.process(next(iter(element.clauses)), **kw)
    utc = f"({arg} AT TIME ZONE 'UTC')"
    return f"(CAST(EXTRACT(YEAR FROM {utc}) AS INTEGER) * 12 + CAST(EXTRACT(MONTH FROM {utc}) AS INTEGER))"


class by_member_index(FunctionElement[Any]):
    """A column SQLite must not look up by its own index (`+column`): the query then reads a
    member's events through the per-member index, driven from the member table. PostgreSQL's
    planner chooses well by itself: the column, as is."""

    inherit_cache = True

    def __init__(self, column: ColumnElement[Any]) -> None:
        super().__init__(column)
        self.type = column.type  # compared values bind as the column's own type


@compiles(by_member_index, "sqlite")
def _by_member_index_sqlite(element: by_member_index, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(next(iter(element.clauses)), **kw)}"


@compiles(by_member_index, "postgresql")
def _by_member_index_pg(element: by_member_index, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(next(iter(element.clauses)), **kw))


def month_label(index: int) -> str:
    year, month = divmod(index - 1, 12)
    return f"{year:04d}-{month + 1:02d}"


def index_of(at: datetime) -> int:
    return at.year * 12 + at.month


def months_before(at: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (clipped to the month's end)."""
    year, month = divmod(at.year * 12 + at.month - 1 - months, 12)
    day = min(at.day, calendar.monthrange(year, month + 1)[1])
    return at.replace(year=year, month=month + 1, day=day)


def amount() -> ColumnElement[Decimal]:
    """A purchase's amount (a refund's is negative); 0 when absent. `event.amount` is computed
    by the database from the properties (models/purchase_amount.py) and indexed."""
    return sa.func.coalesce(event.c.amount, 0)


def joined() -> ColumnElement[Any]:
    """When the member joined; created instead for members put without a `member.joined`."""
    return sa.func.coalesce(member.c.joined_at, member.c.created_at)


def group_column(by: str | None) -> ColumnElement[str]:
    """The member's current tier or locale; one group for everyone without `by`."""
    if by is None:
        return sa.literal(NO_GROUP, sa.String())
    column = member.c.tier if by == "tier" else member.c.locale
    return sa.func.coalesce(column, NO_GROUP)


def money(value: object) -> Decimal:
    """To cents (SQLite sums NUMERIC as floating point; cents undo its last-digit noise)."""
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_EVEN)


def ratio(numerator: float | int | Decimal, denominator: float | int | Decimal) -> float | None:
    return None if not denominator else float(numerator) / float(denominator)


def money_ratio(numerator: Decimal, denominator: int) -> Decimal | None:
    return None if not denominator else money(numerator / denominator)
