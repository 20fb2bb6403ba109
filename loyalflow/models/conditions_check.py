"""Type-checking a parsed condition at load: unknown fields and functions, a number compared with
text, `<` on true/false or lists, `in` without a list on its right (see conditions.py).
"""

import difflib

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
)
from loyalflow.models.conditions_types import (
    CUSTOM_ATTRIBUTES,
    DESCRIPTIONS,
    FUNCTIONS,
    MEMBER_FIELDS,
    ValueType,
    family,
)


def suggestion(name: str, choices: list[str]) -> str:
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
    return f"{shown} ({DESCRIPTIONS[value_type]})"


class TypeChecker:
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
        hint = suggestion(root, ["member", "event", "true", "false", "null"])
        raise ConditionError(
            f"unknown name {root!r}{hint}; conditions read member.<field> and event.<property>",
            reference.column,
        )

    def call(self, call: Call) -> ValueType:
        function = FUNCTIONS.get(call.function)
        if function is None:
            hint = suggestion(call.function, list(FUNCTIONS))
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
            if argument_type is not ValueType.ANY and family(argument_type) != parameter:
                raise ConditionError(
                    f"{call.function}() needs {DESCRIPTIONS[parameter]}, "
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
        hint = suggestion(field, [*MEMBER_FIELDS, CUSTOM_ATTRIBUTES])
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
    if family(side_type) in (ValueType.BOOLEAN, ValueType.LIST):
        raise ConditionError(
            f"'{comparison.operator}' needs numbers, text or dates, not {_describe(side, side_type)}",
            side.column,
        )


def _check_comparable(
    left: Expression, left_type: ValueType, right: Expression, right_type: ValueType, of: str = ""
) -> None:
    unknowns = (ValueType.ANY, ValueType.NULL)
    if left_type in unknowns or right_type in unknowns or family(left_type) == family(right_type):
        return
    raise ConditionError(
        f"cannot compare {_describe(left, left_type)} with {of}{_describe(right, right_type)}",
        right.column,
    )
