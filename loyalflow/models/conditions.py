"""Journey conditions: a small, safe expression language, type-checked at load, never `eval`ed.

    event.amount >= 50 and member.tier in ['Gold', 'Platinum']
    days_since(member.last_purchase_at) > 30 or not member.points

Pure (stdlib and pydantic only): workflow code evaluates conditions inside the Temporal sandbox.
The grammar is in `conditions_parser`, the types and functions in `conditions_types`, the
load-time checks in `conditions_check`. A condition reads `member.<field>` (MEMBER_FIELDS),
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

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator

from loyalflow.models.conditions_check import TypeChecker
from loyalflow.models.conditions_parser import (
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
from loyalflow.models.conditions_types import (
    CUSTOM_ATTRIBUTES,
    FUNCTIONS,
    MEMBER_FIELDS,
    Function,
    ValueType,
    family,
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
    TypeChecker(allow_event).type_of(expression)
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
    if family(field_type) is ValueType.NUMBER and isinstance(value, str):
        return as_number(value)  # a Decimal serialised by pydantic arrives as text
    return value
