"""The condition language's value types, the member fields it can read, and its functions."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from loyalflow.models.conditions_values import as_datetime


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
DESCRIPTIONS = {
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


def family(value_type: ValueType) -> ValueType:
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
