"""Marketer-friendly durations (3d, 1d12h, 90m, -7d) for journey YAML, and back."""

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator

_DURATION_PART = re.compile(r"(\d+)\s*(w|d|h|m|s)")
_DURATION = re.compile(r"^\s*-?\s*(\d+\s*[wdhms]\s*)+$")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: object) -> object:
    """Accept marketer-friendly durations such as `3d`, `1d12h`, `90m`, `-7d` (and ISO 8601)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        # `duration: 3` would silently mean 3 seconds: ask for the unit instead.
        raise ValueError(f"give a unit: {value}d, {value}h, {value}m or {value}s")
    if isinstance(value, str) and _DURATION.match(value):
        seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value))
        return timedelta(seconds=-seconds if value.strip().startswith("-") else seconds)
    return value


def format_duration(value: timedelta) -> str:
    """The marketer's own notation back: 3d, 1d12h, 90m, -7d."""
    seconds = int(value.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + ("".join(parts) or "0s")


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be a positive duration such as 3d, 12h or 1w")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


PositiveDuration = Annotated[Duration, BeforeValidator(parse_duration)]
