"""The report period from what a user types (`--from/--to`, `?from=&to=`): a date (a whole day,
UTC: `to` includes that day) or an ISO 8601 instant with a UTC offset; by default the 30 days
up to now. Errors name the field."""

from datetime import UTC, date, datetime, time, timedelta

from loyalflow.analytics.kpi_models import Period

DEFAULT_DAYS = 30
# Earlier or later instants make no sense for a program, and month arithmetic must not overflow.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class PeriodError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def default_period(now: datetime | None = None, days: int = DEFAULT_DAYS) -> Period:
    end = now or datetime.now(UTC)
    return Period(start=end - timedelta(days=days), end=end)


def _instant(field: str, text: str, *, end_of_day: bool) -> datetime:
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            at = datetime.combine(day, time(), tzinfo=UTC)
            return at + timedelta(days=1) if end_of_day else at
        at = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise PeriodError(
            field, f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time with an offset"
        ) from None
    if at.tzinfo is None:
        raise PeriodError(field, f"{text!r} has no UTC offset (add Z or +01:00, or give a date)")
    return at.astimezone(UTC)


def parse_period(
    start: str | None, end: str | None, now: datetime | None = None, days: int = DEFAULT_DAYS
) -> Period:
    """`end` defaults to now, `start` to `days` before the end."""
    end_at = _instant("to", end, end_of_day=True) if end else (now or datetime.now(UTC))
    start_at = _instant("from", start, end_of_day=False) if start else None
    for field, at in (("to", end_at), ("from", start_at)):
        if at is not None and not EARLIEST <= at <= LATEST:
            raise PeriodError(field, f"must be between {EARLIEST.date()} and {LATEST.date()}")
    if start_at is None:
        start_at = end_at - timedelta(days=days)
    if start_at >= end_at:
        raise PeriodError("from", "must be before `to`")
    return Period(start=start_at, end=end_at)
