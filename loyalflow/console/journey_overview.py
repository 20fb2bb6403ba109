"""The journeys list: each loaded journey's trigger, version and pause, with its entries,
conversions (over a period of whole UTC days, from the daily rollup) and runs in progress now;
each figure one grouped query for every journey (analytics/journey_list.py)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from loyalflow.analytics.journey_list import in_progress, period_figures
from loyalflow.analytics.journey_models import ReportPeriod
from loyalflow.analytics.rollup import last_rolled_day
from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.models.journey import Journey
from loyalflow.routing.pauses import pauses

DEFAULT_DAYS = 30
MAX_DAYS = 3660  # ten years: a longer period is a typo


class PeriodRefused(ValueError):
    """A period the console cannot read: `field` names the form field (from, to)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class DayPeriod:
    """The UTC days [first, last], both included."""

    first: date
    last: date

    def report_period(self) -> ReportPeriod:
        """The same days as a report's period (entries in [first 00:00, the day after last))."""
        return ReportPeriod(
            start=datetime.combine(self.first, time(0), tzinfo=UTC),
            end=datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=UTC),
        )


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodRefused(field, f"{field}: {text[:40]!r} is not a date (YYYY-MM-DD)") from None


def day_period(first: str | None, last: str | None, today: date) -> DayPeriod:
    """What the period form says; by default the last 30 days, today included."""
    end = _day(last, "to") if last else today
    start = _day(first, "from") if first else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise PeriodRefused("from", "from: must not be after to")
    if (end - start).days >= MAX_DAYS:
        raise PeriodRefused("from", f"from: the period is longer than {MAX_DAYS} days")
    return DayPeriod(start, end)


@dataclass(frozen=True)
class JourneyRow:
    id: str
    name: str
    trigger: str
    version: str
    paused_at: datetime | None
    paused_by: str | None
    entered: int
    in_progress: int
    converted: int | None  # None: the journey has no goal


@dataclass(frozen=True)
class JourneyList:
    rows: list[JourneyRow]
    rolled_up_to: date | None  # the period's entries and conversions stop at this day


def trigger_text(journey: Journey) -> str:
    trigger = journey.trigger
    if trigger.segment is not None:
        return f"segment {trigger.segment} (cron {trigger.cron})"
    return f"{trigger.event}" + (f" if {trigger.condition}" if trigger.condition else "")


def journey_list(settings: Settings, period: DayPeriod) -> JourneyList:
    """The catalogue's journeys, by id."""
    url = settings.effective_database_url
    paused = pauses(url)
    figures = period_figures(url, period.first, period.last)
    running = in_progress(url)
    rows = []
    for journey in sorted(get_catalog(settings).journeys.values(), key=lambda j: j.id):
        pause = paused.get(journey.id)
        mine = figures.get(journey.id)
        rows.append(
            JourneyRow(
                id=journey.id,
                name=journey.name,
                trigger=trigger_text(journey),
                version=journey.version,
                paused_at=pause.paused_at if pause else None,
                paused_by=pause.paused_by if pause else None,
                entered=mine.entered if mine else 0,
                in_progress=running.get(journey.id, 0),
                converted=(mine.converted if mine else 0) if journey.goal else None,
            )
        )
    return JourneyList(rows, last_rolled_day(url, period.last + timedelta(days=1)))
