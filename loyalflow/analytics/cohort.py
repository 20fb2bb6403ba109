"""A journey's cohort in SQL: its entries in a period, and what each entry did next.

Every report figure starts from the cohort (enrollment rows entered in [start, end)) and is
aggregated per version in the database. What each entry did next is joined to it (not tested
with correlated subqueries: PostgreSQL runs those in the leader process only, one probe at a
time, where a join's probes are shared by its parallel workers).
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Numeric, and_, case, func, true
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
        if self.period.start is None:  # every run: the join to the entries is the whole bound
            return true()
        return and_(
            col(JourneyStep.journey_id) == self.journey_id,
            col(JourneyStep.at) >= self.period.start,
        )


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


def goal_events_join(goal: Goal, *, revenue: bool = True) -> tuple[Any, ColumnElement[bool]]:
    """(event alias, join condition): each entry's events within its goal window that the report
    reads: the goal event (conversion, unless the goal has a condition: the runs' record counts
    then) and, with `revenue`, purchases (attributed revenue). One join, so one probe per entry
    into the per-member index, which carries the amount: the rows themselves are never read."""
    event = SQLModel.metadata.tables[str(Event.__tablename__)].alias()
    types = {PURCHASE} if revenue else set()
    if not goal.condition:
        types.add(goal.event)
    wanted = event.c.type == types.pop() if len(types) == 1 else event.c.type.in_(sorted(types))
    return event, and_(_in_window(event.c, goal), wanted)


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of the group satisfy `condition` (0 for none, never NULL)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
