"""Segment conditions as a SQL pre-filter over members; `Condition.evaluate` has the last word.

    rows = session.exec(select(Member).where(prefilter(condition, as_of)))
    selected = [m for m in rows if condition.evaluate(member_facts(m), None, as_of)]

The database only narrows the candidates, so the WHERE clause must never leave out a member the
condition selects. Each part of a condition compiles to two clauses: `superset` (true for every
member the part selects, and maybe more) and `subset` (true only for members it selects). What SQL
cannot say exactly (custom attributes, tags, text ordering, where database collations differ
from Python) is (TRUE, FALSE). `and` and `or` combine the bounds and `not` swaps them, so
`not member.attributes.vip` pre-filters nothing. Clauses test NULL explicitly and are therefore
never NULL themselves: NOT of a clause is its exact complement, as in the evaluator.
Works on SQLite and PostgreSQL.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from operator import eq, ge, gt, le, lt
from typing import Any

from sqlalchemy import Numeric, and_, false, inspect, literal, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement

from loyalflow.models.conditions import MEMBER_FIELDS, Condition, ValueType
from loyalflow.models.conditions_parser import (
    Call,
    Comparison,
    Constant,
    Expression,
    ListConstant,
    Logical,
    Not,
    Operator,
    Reference,
)
from loyalflow.models.tables import Member

_TABLE = inspect(Member).columns
# Every typed member field but tags, which live in the JSON attributes.
_COLUMNS: Mapping[str, ColumnElement[Any]] = {
    field: _TABLE[field] for field in MEMBER_FIELDS if field != "tags"
}
_SQL_OPERATORS: Mapping[str, Callable[[Any, Any], Any]] = {
    "==": eq,
    "<": lt,
    "<=": le,
    ">": gt,
    ">=": ge,
}
_MIRRORED: Mapping[Operator, Operator] = {"==": "==", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_DAY_FUNCTIONS = frozenset({"days_since", "days_until"})  # other functions are the evaluator's
_NEGATED: Mapping[Operator, Operator] = {"!=": "==", "not in": "in"}
# SQLite compares NUMERIC columns as binary floats: literals with up to 15 significant digits
# keep their order against stored amounts, longer ones may not.
_EXACT_FLOAT_DIGITS = 15


def prefilter(condition: Condition, as_of: datetime) -> ColumnElement[bool]:
    """A WHERE clause true for at least every member `condition` selects at `as_of`."""
    if condition.reads_event:
        raise ValueError(f"a segment condition cannot read the event: {condition.text!r}")
    if as_of.tzinfo is None:
        raise ValueError("as_of must be an aware datetime")
    return _Compiler(as_of).bounds(condition.expression).superset


def member_facts(member: Member) -> dict[str, Any]:
    """The member as `Condition.evaluate` reads it."""
    facts: dict[str, Any] = {field: getattr(member, field) for field in _COLUMNS}
    facts["attributes"] = member.attributes
    facts["tags"] = member.attributes.get("tags", [])
    return facts


@dataclass(frozen=True)
class _Bounds:
    superset: ColumnElement[bool]
    subset: ColumnElement[bool]

    def negated(self) -> "_Bounds":
        return _Bounds(not_(self.subset), not_(self.superset))


_UNKNOWN = _Bounds(true(), false())


def _exact(clause: ColumnElement[bool]) -> _Bounds:
    return _Bounds(clause, clause)


class _Compiler:
    def __init__(self, as_of: datetime) -> None:
        self.as_of = as_of

    def bounds(self, expression: Expression) -> _Bounds:
        match expression:
            case Not(operand=operand):
                return self.bounds(operand).negated()
            case Logical(operator=operator, operands=operands):
                combine = and_ if operator == "and" else or_
                parts = [self.bounds(operand) for operand in operands]
                return _Bounds(
                    combine(*(part.superset for part in parts)),
                    combine(*(part.subset for part in parts)),
                )
            case Comparison(operator="!=" | "not in" as operator):
                return self.bounds(replace(expression, operator=_NEGATED[operator])).negated()
            case Comparison():
                return self.comparison(expression)
        return _truthiness(expression)

    def comparison(self, comparison: Comparison) -> _Bounds:
        left, operator, right = _constant_on_the_right(comparison)
        if operator == "in":
            return _membership(left, right)
        if isinstance(left, Call):
            return self.days(left, operator, right)
        column = _column(left)
        if column is None:
            return _UNKNOWN
        if isinstance(right, Constant):
            return _against_constant(column, _field_type(left), operator, right.value)
        other = _column(right)
        if other is None or (operator != "==" and _field_type(left) is ValueType.TEXT):
            return _UNKNOWN
        both_set = and_(column.is_not(None), other.is_not(None))
        compared = and_(both_set, _SQL_OPERATORS[operator](column, other))
        if operator == "==":  # null == null, as in the evaluator
            return _exact(or_(compared, and_(column.is_(None), other.is_(None))))
        return _exact(compared)

    def days(self, call: Call, operator: Operator, right: Expression) -> _Bounds:
        """days_since/days_until(column) against a number, as bounds on the column itself."""
        compiled = call.function in _DAY_FUNCTIONS and len(call.arguments) == 1
        column = _column(call.arguments[0]) if compiled else None
        limit = _as_decimal(right.value) if isinstance(right, Constant) else None
        if column is None or limit is None:
            return _UNKNOWN
        # floor(x) >= n  <=>  x >= ceil(n), and floor(x) > n  <=>  x >= floor(n) + 1.
        spans: dict[str, list[tuple[bool, int]]] = {
            ">=": [(True, math.ceil(limit))],
            ">": [(True, math.floor(limit) + 1)],
            "<": [(False, math.ceil(limit))],
            "<=": [(False, math.floor(limit) + 1)],
            "==": [(True, int(limit)), (False, int(limit) + 1)],
        }
        if operator == "==" and limit != int(limit):
            return _exact(false())  # whole days never equal 2.5
        try:
            clauses = [
                self.days_clause(call.function, column, at_least, days)
                for at_least, days in spans[operator]
            ]
        except OverflowError:  # a limit beyond the calendar; the evaluator settles it
            return _UNKNOWN
        return _exact(and_(column.is_not(None), *clauses))

    def days_clause(
        self, function: str, column: ColumnElement[Any], at_least: bool, days: int
    ) -> ColumnElement[bool]:
        """`function(column) >= days` when at_least, else `function(column) < days`."""
        if function == "days_since":
            moment = self.as_of - timedelta(days=days)
            return column <= moment if at_least else column > moment
        moment = self.as_of + timedelta(days=days)
        return column >= moment if at_least else column < moment


def _constant_on_the_right(comparison: Comparison) -> tuple[Expression, Operator, Expression]:
    left, operator, right = comparison.left, comparison.operator, comparison.right
    if isinstance(left, Constant) and not isinstance(right, Constant) and operator in _MIRRORED:
        return right, _MIRRORED[operator], left
    return left, operator, right


def _membership(left: Expression, right: Expression) -> _Bounds:
    column = _column(left)
    if column is None or not isinstance(right, ListConstant):
        return _UNKNOWN
    # A null item never matches: the evaluator's `null in [...]` is false and null == x is false.
    values = [_sql_constant(item.value) for item in right.items if item.value is not None]
    if any(value is None for value in values):
        return _UNKNOWN
    if not values:
        return _exact(false())
    return _exact(and_(column.is_not(None), column.in_(values)))


def _against_constant(
    column: ColumnElement[Any], field_type: ValueType, operator: Operator, value: Any
) -> _Bounds:
    if value is None:  # the type checker only lets `== null` through
        return _exact(column.is_(None) if operator == "==" else false())
    if operator != "==" and field_type is ValueType.TEXT:
        return _UNKNOWN
    constant = _sql_constant(value)
    if constant is None:
        return _UNKNOWN
    return _exact(and_(column.is_not(None), _SQL_OPERATORS[operator](column, constant)))


def _truthiness(expression: Expression) -> _Bounds:
    """A bare value used as a condition: Python truthiness."""
    if isinstance(expression, Constant | ListConstant):
        truthy = expression.items if isinstance(expression, ListConstant) else expression.value
        return _exact(true() if truthy else false())
    column = _column(expression)
    if column is None:
        return _UNKNOWN
    field_type = _field_type(expression)
    if field_type is ValueType.DATETIME:
        return _exact(column.is_not(None))
    empty = "" if field_type is ValueType.TEXT else 0
    return _exact(and_(column.is_not(None), column != empty))


def _column(expression: Expression) -> ColumnElement[Any] | None:
    if isinstance(expression, Reference) and expression.path[0] == "member":
        return _COLUMNS.get(expression.path[1]) if len(expression.path) == 2 else None
    return None


def _field_type(expression: Expression) -> ValueType:
    assert isinstance(expression, Reference)
    return MEMBER_FIELDS[expression.path[1]]


def _as_decimal(value: Any) -> Decimal | None:
    is_number = isinstance(value, int | Decimal) and not isinstance(value, bool)
    return Decimal(value) if is_number else None


def _sql_constant(value: Any) -> ColumnElement[Any] | None:
    """A bind parameter the database compares exactly as the evaluator does, else None."""
    if isinstance(value, str):
        return literal(value)
    number = _as_decimal(value)
    if number is None or len(number.as_tuple().digits) > _EXACT_FLOAT_DIGITS:
        return None
    # Typed as Numeric: an Integer column would hand a Decimal to sqlite3, which refuses it.
    return literal(number, Numeric())
