"""The period a journey or experiment report covers, from what a user typed: `--from/--to` or
`?from=&to=`. Default: the last 30 days. A bare date for `to` includes that whole day; naive
times are UTC."""

from datetime import UTC, date, datetime, time, timedelta

from loyalflow.analytics.journey_models import ReportPeriod

DEFAULT_DAYS = 30


class PeriodError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _moment(value: date | datetime, *, end_of_day: bool) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    day = value + timedelta(days=1) if end_of_day else value
    return datetime.combine(day, time(0), tzinfo=UTC)


def parse_moment(text: str, field: str) -> date | datetime:
    """`2026-03-01` (a date) or an ISO 8601 time; PeriodError naming `field` otherwise."""
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            return parse(text)
        except ValueError:
            continue
    raise PeriodError(field, f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time")


def report_period(
    start: date | datetime | None, end: date | datetime | None, now: datetime
) -> ReportPeriod:
    until = _moment(end, end_of_day=True) if end is not None else now
    since = (
        _moment(start, end_of_day=False)
        if start is not None
        else until - timedelta(days=DEFAULT_DAYS)
    )
    if since >= until:
        raise PeriodError("from", "from must be before to")
    return ReportPeriod(start=since, end=until)
