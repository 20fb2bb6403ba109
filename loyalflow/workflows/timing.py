"""When a `wait` step ends, in the member's own timezone. Pure functions: no clock, no I/O.

Times of day are wall-clock times: "09:00 Europe/Paris" stays 09:00 across a daylight-saving
change, so the number of hours waited is not always a multiple of 24.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _wall_clock(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`day` at `at` local time, as UTC. In a spring-forward gap the clock has no such time:
    the first valid instant after it is used (fold=0 maps the gap forward)."""
    local = datetime.combine(day, at, tzinfo=zone)
    # Round-trip through UTC normalises a nonexistent local time into the real one.
    return local.astimezone(UTC)


def next_local_time(
    after: datetime, timezone: str, at: time, on_days: tuple[str, ...] | None = None
) -> datetime:
    """The first instant at or after `after` whose local time is `at` on an allowed weekday."""
    zone = ZoneInfo(timezone)
    allowed = set(on_days or WEEKDAYS)
    day = after.astimezone(zone).date()
    for offset in range(8):
        candidate_day = day + timedelta(days=offset)
        if WEEKDAYS[candidate_day.weekday()] not in allowed:
            continue
        candidate = _wall_clock(candidate_day, at, zone)
        if candidate >= after:
            return candidate
    raise ValueError("on_days allows no day")  # unreachable: the model requires a day


def as_datetime(value: object, timezone: str) -> datetime | None:
    """A member attribute as an aware datetime: datetimes, ISO strings, or dates (local midnight)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return _wall_clock(value, time(0), ZoneInfo(timezone))
    return None


def date_wait_target(
    value: object,
    timezone: str,
    now: datetime,
    *,
    offset: timedelta,
    at: time | None,
    each_year: bool,
) -> datetime | None:
    """When a wait `until_date` ends; None when the member has no usable date."""
    base = as_datetime(value, timezone)
    if base is None:
        return None
    zone = ZoneInfo(timezone)
    local = base.astimezone(zone)
    if each_year:
        # The next anniversary whose (offset) moment is still ahead; 29 February -> 28th.
        for year in range(now.astimezone(zone).year - 1, now.astimezone(zone).year + 2):
            day = _anniversary(local.date(), year)
            target = _at(day, at or local.time(), zone) + offset
            if target >= now:
                return target
        return None
    return _at(local.date(), at, zone) + offset if at is not None else base + offset


def _anniversary(day: date, year: int) -> date:
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 2, 28)


def _at(day: date, at: time, zone: ZoneInfo) -> datetime:
    return _wall_clock(day, at.replace(tzinfo=None), zone)
