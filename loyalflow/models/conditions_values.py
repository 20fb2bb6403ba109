"""What values mean when a condition is evaluated: nulls, numbers, dates and kinds (see `conditions`).

Pure and total: these functions never raise because of the shape of the data.
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from operator import ge, gt, le, lt
from typing import Any


def as_datetime(value: Any) -> datetime | None:
    """An aware datetime from a datetime or an ISO 8601 string (naive means UTC), else None."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def lookup(value: Any, path: list[str]) -> Any:
    """`value[path[0]][path[1]]...`, or None where a key is missing or a value is not a mapping."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def as_number(value: Any) -> Decimal | None:
    """A finite Decimal from a number or numeric text (never from true/false), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    try:
        number = Decimal(str(value)) if isinstance(value, float | str) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None
    # NaN would make Decimal ordering raise; infinities are not amounts anyone means.
    return number if number.is_finite() else None


_ORDERINGS: Mapping[str, Callable[[Any, Any], bool]] = {
    "<": lt,
    "<=": le,
    ">": gt,
    ">=": ge,
}


def compare(operator: str, left: Any, right: Any) -> bool:
    if operator == "==":
        return _equal(left, right)
    if operator == "!=":
        return not _equal(left, right)
    if operator == "in":
        return _contains(right, left)
    if operator == "not in":
        return not _contains(right, left)
    pair = _same_kind(left, right)
    return pair is not None and _ORDERINGS[operator](*pair)


def _contains(container: Any, item: Any) -> bool:
    if item is None or not isinstance(container, list | tuple):
        return False
    return any(_equal(item, element) for element in container)


def _equal(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(map(_equal, left, right))
    pair = _same_kind(left, right)
    return pair is not None and pair[0] == pair[1]


def _same_kind(left: Any, right: Any) -> tuple[Any, Any] | None:
    """Both values as numbers, dates or text, or None when they are not of one kind."""
    if left is None or right is None or isinstance(left, bool) or isinstance(right, bool):
        return None
    if isinstance(left, datetime) or isinstance(right, datetime):
        dates = as_datetime(left), as_datetime(right)
        return None if None in dates else dates
    if isinstance(left, str) and isinstance(right, str):
        return left, right
    if isinstance(left, str) or isinstance(right, str):
        return None
    numbers = as_number(left), as_number(right)
    return None if None in numbers else numbers
