"""A journey's funnel per version, in SQL: entries, exits, conversions, revenue, steps.

Each function is one GROUP BY over the cohort (see `cohort.py`), keyed by journey version; the
report adds versions together for the journey's total.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from loyalflow.analytics.cohort import Cohort, converted, revenue_join
from loyalflow.models.journey import Goal
from loyalflow.models.tables import Enrollment, JourneyStep


@dataclass
class VersionCounts:
    entered: int = 0
    in_progress: int = 0
    completed: int = 0
    converted: int = 0
    first_entry: datetime | None = None
    revenue: Decimal = Decimal(0)
    exits: dict[str, int] = field(default_factory=dict)
    reached: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)


def _ones(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def version_counts(session: Session, cohort: Cohort, goal: Goal | None) -> dict[str, VersionCounts]:
    version = col(Enrollment.journey_version)
    running = col(Enrollment.exited_at).is_(None)
    counts: dict[str, VersionCounts] = defaultdict(VersionCounts)
    totals = select(
        version,
        func.count(),
        _ones(running),
        _ones(col(Enrollment.exit_reason) == "completed"),
        _ones(converted(goal)) if goal is not None else literal(0),
        func.min(col(Enrollment.entered_at)),
    )
    for name, entered, in_progress, completed, conversions, first in session.execute(
        totals.where(cohort.where()).group_by(version)
    ):
        row = counts[name]
        row.entered, row.in_progress, row.completed = entered, in_progress, completed
        row.converted, row.first_entry = int(conversions or 0), first
    reason = col(Enrollment.exit_reason)
    for name, exit_reason, count in session.execute(
        select(version, reason, func.count())
        .where(cohort.where(), ~running)
        .group_by(version, reason)
    ):
        counts[name].exits[exit_reason or "(no reason)"] = count
    current = col(Enrollment.current_step)
    for name, step, count in session.execute(
        select(version, current, func.count())
        .where(cohort.where(), running)
        .group_by(version, current)
    ):
        counts[name].waiting[step or "(not started)"] = count
    step_id = col(JourneyStep.step_id)
    for name, step, count in session.execute(
        select(version, step_id, func.count(func.distinct(col(JourneyStep.workflow_id))))
        .join(Enrollment, col(Enrollment.workflow_id) == col(JourneyStep.workflow_id))
        .where(cohort.where())
        .group_by(version, step_id)
    ):
        counts[name].reached[step] = count
    if goal is not None:
        purchase, window, amount = revenue_join(goal)
        for name, revenue in session.execute(
            select(version, func.sum(amount))
            .select_from(Enrollment)
            .join(purchase, window)
            .where(cohort.where())
            .group_by(version)
        ):
            counts[name].revenue = Decimal(str(revenue or 0)).quantize(Decimal("0.01"))
    return dict(counts)
