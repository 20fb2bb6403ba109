"""Journey conditions: a small, safe expression language, type-checked at load, never `eval`ed.

    event.amount >= 50 and member.tier in ['Gold', 'Platinum']
    days_since(member.last_purchase_at) > 30 or not member.points

Pure (stdlib and pydantic only): workflow code evaluates conditions inside the Temporal sandbox.
The grammar is in `conditions_parser`. A condition reads `member.<field>` (MEMBER_FIELDS),
`member.attributes.<name>` and `event.<property>` (any value, nested with dots), and calls
FUNCTIONS. Loading rejects what is surely a mistake: unknown fields and functions, a number
compared with text, `<` on true/false or lists, `in` without a list on its right.

Evaluation semantics:
- A missing key or None is null. `x == null` and `x != null` test for it; an ordering comparison
  (`<`, `<=`, `>`, `>=`) with null is false, and so is `null in [...]`.
- `!=` is the negation of `==` and `not in` of `in`: a member with no tier satisfies both
  `member.tier != 'Gold'` and `member.tier not in ['Gold']`.
- Numbers compare by value across int, float and Decimal; a float counts as its shortest decimal
  form, so an event amount 0.1 equals the literal 0.1. true and false are not numbers.
- Dates may be aware datetimes or ISO 8601 strings (they come through JSON); naive ones are UTC.
  A date compared with a string from the data (an event property) reads the string as a date.
- `days_since(x)` is the whole number of days from x to now, rounded down: 23 hours ago is 0,
  25 hours ago is 1, tomorrow is -1. `days_until(x)` is floor((x - now) / 1 day). Both give null
  for null or for anything that is not a date.
- A bare value (`not member.points`) is tested with Python truthiness: null, 0, '' and [] are false.
- Values of different kinds (text and a number, a list and a date, a right side of `in` that is not
  a list...) are never equal nor ordered. Evaluation never raises because of the data.
"""

import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import AfterValidator

from loyalflow.models.conditions_parser import (
    ORDERING_OPERATORS,
    Call,
    Comparison,
    ConditionError,
    Constant,
    Expression,
    ListConstant,
    Logical,
    Not,
    Reference,
    parse_expression,
)
from loyalflow.models.conditions_values import as_datetime, as_number, compare, lookup

__all__ = [
    "FUNCTIONS",
    "MEMBER_FIELDS",
    "Condition",
    "ConditionError",
    "ConditionText",
    "Function",
    "SegmentConditionText",
    "ValueType",
    "parse_condition",
]


class ValueType(StrEnum):
    TEXT = "str"
    INT = "int"
    NUMBER = "number"
    BOOLEAN = "bool"
    DATETIME = "datetime"
    TEXT_LIST = "list[str]"
    LIST = "list"
    NULL = "null"
    ANY = "any"


MEMBER_FIELDS: Mapping[str, ValueType] = MappingProxyType(
    {
        "tier": ValueType.TEXT,
        "points": ValueType.INT,
        "purchase_count": ValueType.INT,
        "total_spent": ValueType.NUMBER,
        "locale": ValueType.TEXT,
        "timezone": ValueType.TEXT,
        "joined_at": ValueType.DATETIME,
        "first_purchase_at": ValueType.DATETIME,
        "last_purchase_at": ValueType.DATETIME,
        "last_activity_at": ValueType.DATETIME,
        "tags": ValueType.TEXT_LIST,
    }
)
CUSTOM_ATTRIBUTES = "attributes"  # member.attributes.<name>: free-form, typed "any"
_DESCRIPTIONS = {
    ValueType.TEXT: "text",
    ValueType.INT: "a number",
    ValueType.NUMBER: "a number",
    ValueType.BOOLEAN: "true/false",
    ValueType.DATETIME: "a date",
    ValueType.TEXT_LIST: "a list",
    ValueType.LIST: "a list",
    ValueType.NULL: "null",
    ValueType.ANY: "any value",
}


def _family(value_type: ValueType) -> ValueType:
    """Types that compare with each other share a family."""
    if value_type is ValueType.INT:
        return ValueType.NUMBER
    return ValueType.LIST if value_type is ValueType.TEXT_LIST else value_type


@dataclass(frozen=True)
class Function:
    parameters: tuple[ValueType, ...]
    returns: ValueType
    apply: Callable[[datetime, tuple[Any, ...]], Any]  # (now, arguments) -> result


def _days_since(now: datetime, arguments: tuple[Any, ...]) -> int | None:
    moment = as_datetime(arguments[0])
    return None if moment is None else (now - moment) // timedelta(days=1)


def _days_until(now: datetime, arguments: tuple[Any, ...]) -> int | None:
    moment = as_datetime(arguments[0])
    return None if moment is None else (moment - now) // timedelta(days=1)


FUNCTIONS: Mapping[str, Function] = MappingProxyType(
    {
        "days_since": Function((ValueType.DATETIME,), ValueType.NUMBER, _days_since),
        "days_until": Function((ValueType.DATETIME,), ValueType.NUMBER, _days_until),
    }
)


@dataclass(frozen=True)
class Condition:
    """A parsed, type-checked condition. Build it with `parse_condition`."""

    text: str
    expression: Expression

    def member_fields(self) -> frozenset[str]:
        """Member fields read, with "attributes" standing for any custom attribute."""
        return frozenset(r.path[1] for r in references(self.expression) if r.path[0] == "member")

    @property
    def reads_event(self) -> bool:
        return any(r.path[0] == "event" for r in references(self.expression))

    def evaluate(
        self, member: Mapping[str, Any], event: Mapping[str, Any] | None, now: datetime
    ) -> bool:
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        return bool(_Evaluation(member, event, now).value(self.expression))


def parse_condition(text: str, *, allow_event: bool = True) -> Condition:
    """Parses and type-checks `text`; raises ConditionError with the column of the first mistake.

    Segment conditions run with no event: check them with allow_event=False.
    """
    expression = parse_expression(text)
    _Checker(allow_event).type_of(expression)
    return Condition(text, expression)


def _journey_condition(text: str) -> str:
    parse_condition(text)
    return text


def _segment_condition(text: str) -> str:
    parse_condition(text, allow_event=False)
    return text


# pydantic fields: the ConditionError (a ValueError) reaches ValidationError.errors()[i]["ctx"].
ConditionText = Annotated[str, AfterValidator(_journey_condition)]
SegmentConditionText = Annotated[str, AfterValidator(_segment_condition)]


def references(expression: Expression) -> Iterator[Reference]:
    match expression:
        case Reference():
            yield expression
        case Call(arguments=arguments) | Logical(operands=arguments):
            for argument in arguments:
                yield from references(argument)
        case Not(operand=operand):
            yield from references(operand)
        case Comparison(left=left, right=right):
            yield from references(left)
            yield from references(right)


def _suggestion(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _describe(expression: Expression, value_type: ValueType) -> str:
    match expression:
        case Reference():
            shown = expression.dotted
        case Constant():
            shown = expression.source
        case Call():
            shown = f"{expression.function}(...)"
        case _:
            shown = "the expression"
    return f"{shown} ({_DESCRIPTIONS[value_type]})"


class _Checker:
    def __init__(self, allow_event: bool) -> None:
        self.allow_event = allow_event

    def type_of(self, expression: Expression) -> ValueType:
        match expression:
            case Constant(value=value):
                return _constant_type(value)
            case ListConstant():
                return ValueType.LIST
            case Reference():
                return self.reference(expression)
            case Call():
                return self.call(expression)
            case Not(operand=operand):
                self.type_of(operand)
            case Logical(operands=operands):
                for operand in operands:
                    self.type_of(operand)
            case Comparison():
                self.comparison(expression)
        return ValueType.BOOLEAN

    def reference(self, reference: Reference) -> ValueType:
        root, *rest = reference.path
        if root == "member":
            return _member_field_type(reference)
        if root == "event":
            if not self.allow_event:
                raise ConditionError(
                    "segment conditions have no event: only member fields can be used",
                    reference.column,
                )
            if not rest:
                raise ConditionError("write event.<property>, e.g. event.amount", reference.column)
            return ValueType.ANY
        hint = _suggestion(root, ["member", "event", "true", "false", "null"])
        raise ConditionError(
            f"unknown name {root!r}{hint}; conditions read member.<field> and event.<property>",
            reference.column,
        )

    def call(self, call: Call) -> ValueType:
        function = FUNCTIONS.get(call.function)
        if function is None:
            hint = _suggestion(call.function, list(FUNCTIONS))
            raise ConditionError(f"unknown function {call.function!r}{hint}", call.column)
        if len(call.arguments) != len(function.parameters):
            expected = len(function.parameters)
            raise ConditionError(
                f"{call.function}() takes {expected} argument{'s' * (expected != 1)}, "
                f"not {len(call.arguments)}",
                call.column,
            )
        for argument, parameter in zip(call.arguments, function.parameters, strict=True):
            argument_type = self.type_of(argument)
            if argument_type is not ValueType.ANY and _family(argument_type) != parameter:
                raise ConditionError(
                    f"{call.function}() needs {_DESCRIPTIONS[parameter]}, "
                    f"but {_describe(argument, argument_type)} is not one",
                    argument.column,
                )
        return function.returns

    def comparison(self, comparison: Comparison) -> None:
        left, right = self.type_of(comparison.left), self.type_of(comparison.right)
        if comparison.operator in ("in", "not in"):
            self.membership(comparison, left, right)
            return
        if comparison.operator in ORDERING_OPERATORS:
            _check_orderable(comparison, comparison.left, left)
            _check_orderable(comparison, comparison.right, right)
        _check_comparable(comparison.left, left, comparison.right, right)

    def membership(self, comparison: Comparison, left: ValueType, right: ValueType) -> None:
        container = comparison.right
        if isinstance(container, ListConstant):
            for item in container.items:
                _check_comparable(comparison.left, left, item, _constant_type(item.value))
        elif right is ValueType.TEXT_LIST:
            _check_comparable(comparison.left, left, container, ValueType.TEXT, "items of ")
        elif right is not ValueType.ANY:
            raise ConditionError(
                f"'{comparison.operator}' needs a list on its right, such as "
                "['Gold', 'Platinum'] or member.tags",
                container.column,
            )


def _member_field_type(reference: Reference) -> ValueType:
    if len(reference.path) == 1:
        raise ConditionError("write member.<field>, e.g. member.tier", reference.column)
    field = reference.path[1]
    if field == CUSTOM_ATTRIBUTES:
        return ValueType.ANY
    if field not in MEMBER_FIELDS:
        hint = _suggestion(field, [*MEMBER_FIELDS, CUSTOM_ATTRIBUTES])
        advice = hint or f"; read custom attributes with member.attributes.{field}"
        raise ConditionError(f"member has no field {field!r}{advice}", reference.columns[1])
    if len(reference.path) > 2:
        raise ConditionError(f"member.{field} has no fields", reference.columns[2])
    return MEMBER_FIELDS[field]


def _constant_type(value: object) -> ValueType:
    if value is None:
        return ValueType.NULL
    if isinstance(value, bool):
        return ValueType.BOOLEAN
    return ValueType.TEXT if isinstance(value, str) else ValueType.NUMBER


def _check_orderable(comparison: Comparison, side: Expression, side_type: ValueType) -> None:
    if side_type is ValueType.NULL:
        raise ConditionError(
            f"'{comparison.operator}' with null is always false; use '== null' or '!= null'",
            side.column,
        )
    if _family(side_type) in (ValueType.BOOLEAN, ValueType.LIST):
        raise ConditionError(
            f"'{comparison.operator}' needs numbers, text or dates, not {_describe(side, side_type)}",
            side.column,
        )


def _check_comparable(
    left: Expression, left_type: ValueType, right: Expression, right_type: ValueType, of: str = ""
) -> None:
    unknowns = (ValueType.ANY, ValueType.NULL)
    if left_type in unknowns or right_type in unknowns or _family(left_type) == _family(right_type):
        return
    raise ConditionError(
        f"cannot compare {_describe(left, left_type)} with {of}{_describe(right, right_type)}",
        right.column,
    )


class _Evaluation:
    def __init__(
        self, member: Mapping[str, Any], event: Mapping[str, Any] | None, now: datetime
    ) -> None:
        self.member, self.event, self.now = member, event, now

    def value(self, expression: Expression) -> Any:
        match expression:
            case Constant(value=value):
                return value
            case ListConstant(items=items):
                return [item.value for item in items]
            case Reference():
                return self.reference(expression)
            case Call(function=function, arguments=arguments):
                values = tuple(self.value(argument) for argument in arguments)
                return FUNCTIONS[function].apply(self.now, values)
            case Not(operand=operand):
                return not self.value(operand)
            case Logical(operator="and", operands=operands):
                return all(self.value(operand) for operand in operands)
            case Logical(operands=operands):
                return any(self.value(operand) for operand in operands)
            case Comparison(operator=operator, left=left, right=right):
                return compare(operator, self.value(left), self.value(right))

    def reference(self, reference: Reference) -> Any:
        root, *path = reference.path
        if root == "event":
            return lookup(self.event, path)
        field = path[0]
        if field == CUSTOM_ATTRIBUTES:
            return lookup(self.member.get(field), path[1:])
        return _coerce(MEMBER_FIELDS[field], self.member.get(field))


def _coerce(field_type: ValueType, value: Any) -> Any:
    """Typed member fields as the evaluator expects them, whatever JSON made of them."""
    if field_type is ValueType.DATETIME:
        return as_datetime(value)
    if _family(field_type) is ValueType.NUMBER and isinstance(value, str):
        return as_number(value)  # a Decimal serialised by pydantic arrives as text
    return value
