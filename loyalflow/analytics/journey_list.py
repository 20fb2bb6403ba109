"""The journeys list's figures, one grouped query each, for every journey at once:

- entered and converted over a period of whole UTC days, summed from the daily rollup's rows
  (a few per journey and day, read through its primary key, which starts with the day): cheap
  at any scale, and complete up to the last day rolled up (`rollup.last_rolled_day`); entered counts
  entries on their day, converted counts goals reached on their day (README, "Results: the
  HTML report and daily rollup");
- in progress now: runs not yet exited, counted through the partial index
  `ix_enrollment_running_journey` (migration 0023).
"""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import col

from loyalflow.analytics.report_scope import report_scope
from loyalflow.models.rollup_tables import DailyRollup
from loyalflow.models.tables import Enrollment


@dataclass(frozen=True)
class PeriodFigures:
    entered: int
    converted: int


def period_figures(url: str, first_day: date, last_day: date) -> dict[str, PeriodFigures]:
    """journey id -> entries and conversions on the days [first_day, last_day] (UTC)."""
    query = (
        sa.select(
            col(DailyRollup.journey_id),
            sa.func.sum(col(DailyRollup.entered)),
            sa.func.sum(col(DailyRollup.conversions)),
        )
        .where(
            col(DailyRollup.day) >= first_day,
            col(DailyRollup.day) <= last_day,
            col(DailyRollup.journey_id) != "",
        )
        .group_by(col(DailyRollup.journey_id))
    )
    with report_scope(url) as session:
        return {
            journey: PeriodFigures(int(entered or 0), int(converted or 0))
            for journey, entered, converted in session.execute(query)
        }


def in_progress(url: str) -> dict[str, int]:
    """journey id -> runs in progress now."""
    query = (
        sa.select(col(Enrollment.journey_id), sa.func.count())
        .where(col(Enrollment.exited_at).is_(None))
        .group_by(col(Enrollment.journey_id))
    )
    with report_scope(url) as session:
        return {journey: int(count) for journey, count in session.execute(query)}
