"""A journey's cohort in SQL: its entries in a period, and what each entry did next.

Every report figure starts from the cohort (enrollment rows entered in [start, end)) and is
aggregated per version in the database; these expressions are correlated with `Enrollment`.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Numeric, and_, case, exists, func
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel, col

from loyalflow.analytics.journey_models import GoalInfo, ReportPeriod
from loyalflow.analytics.sql_time import plus
from loyalflow.models.journey import Goal
from loyalflow.models.tables import Enrollment, Event, JourneyStep

PURCHASE = "purchase"
MONEY = Numeric(20, 2)


@dataclass(frozen=True)
class Cohort:
    journey_id: str
    period: ReportPeriod

    def where(self) -> ColumnElement[bool]:
        clauses = [col(Enrollment.journey_id) == self.journey_id]
        if self.period.start is not None:
            clauses.append(col(Enrollment.entered_at) >= self.period.start)
        if self.period.end is not None:
            clauses.append(col(Enrollment.entered_at) < self.period.end)
        return and_(*clauses)

    def step_rows(self) -> ColumnElement[bool]:
        """A bound on the step rows of the cohort's runs (each still joined to its entry): the
        journey's, recorded at or after the period's start. A run records its steps at workflow
        time from its entry on (`entered_at` is the same clock), so none is left out; the bound
        lets the database read the period's step rows in one range of
        `ix_journey_step_journey_at` instead of probing once per entry."""
        clauses = [col(JourneyStep.journey_id) == self.journey_id]
        if self.period.start is not None:
            clauses.append(col(JourneyStep.at) >= self.period.start)
        return and_(*clauses)


def goal_info(goal: Goal | None) -> GoalInfo | None:
    if goal is None:
        return None
    return GoalInfo(
        event=goal.event,
        within_days=goal.within.total_seconds() / 86400,
        condition=goal.condition,
        basis="runs" if goal.condition else "events",
    )


def _in_window(event: Any, goal: Goal) -> ColumnElement[bool]:
    """The event is the member's, after the entry and within the goal window."""
    return and_(
        col(event.member_id) == col(Enrollment.member_id),
        col(event.occurred_at) > col(Enrollment.entered_at),
        col(event.occurred_at) <= plus(col(Enrollment.entered_at), goal.within),
    )


def converted(goal: Goal) -> ColumnElement[bool]:
    """The entry converted: its goal event arrived after it and within the window. A goal with
    a condition on the event is only evaluated by the runs: their record is what counts then."""
    if goal.condition:
        return col(Enrollment.converted_at).is_not(None)
    event = aliased(Event)
    return exists().where(_in_window(event, goal), col(event.type) == goal.event)


def goal_events_join(goal: Goal) -> tuple[Any, ColumnElement[bool]]:
    """(event alias, join condition): each entry's events within its goal window that matter to
    the report: purchases (attributed revenue) and the goal event (conversion; a goal with a
    condition converts by the runs' record instead). One join, so one probe per entry into the
    per-member index, which carries the amount: the rows themselves are never read."""
    event = SQLModel.metadata.tables[str(Event.__tablename__)].alias()
    if goal.condition or goal.event == PURCHASE:
        wanted = event.c.type == PURCHASE
    else:
        wanted = event.c.type.in_([goal.event, PURCHASE])
    return event, and_(_in_window(event.c, goal), wanted)


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of the group satisfy `condition` (0 for none, never NULL)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
