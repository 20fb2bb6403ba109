"""A journey's funnel per version, in SQL: entries, exits, conversions, revenue, steps.

Two GROUP BYs over the cohort (see `cohort.py`), keyed by journey version; the report adds
versions together for the journey's total. The first reads the cohort's entries and probes the
member's goal and purchase events once per entry (at 1,000,000 members those probes are most of
its cost); the second reads the period's step rows in one range (`Cohort.step_rows`) and joins
them to the entries. bench/README.md, `report_funnel.py`, has the figures.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from loyalflow.analytics.cohort import PURCHASE, Cohort, goal_events_join
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


def _add_entries(
    session: Session, cohort: Cohort, goal: Goal | None, counts: dict[str, VersionCounts]
) -> None:
    """Entries, runs in progress (by the step they wait at), exits by reason, conversions and
    revenue: one row per entry (its goal window's events joined once), then per version."""
    entry: tuple[ColumnElement[Any], ...] = (
        col(Enrollment.workflow_id).label("workflow_id"),
        col(Enrollment.journey_version).label("version"),
        col(Enrollment.exited_at).is_(None).label("running"),
        col(Enrollment.exit_reason).label("exit_reason"),
        col(Enrollment.current_step).label("current_step"),
        col(Enrollment.entered_at).label("entered_at"),
    )
    if goal is None:
        per_entry = select(*entry, literal(0).label("converted"), literal(0).label("revenue"))
        per_entry = per_entry.where(cohort.where())
    else:
        event, window = goal_events_join(goal)
        if goal.condition:  # only the runs evaluate a condition: their record counts
            converted = func.max(case((col(Enrollment.converted_at).is_not(None), 1), else_=0))
        else:
            converted = func.max(case((event.c.type == goal.event, 1), else_=0))
        revenue = func.sum(case((event.c.type == PURCHASE, func.coalesce(event.c.amount, 0))))
        # Grouped by the primary key: the entry's other columns are functionally dependent.
        per_entry = (
            select(*entry, converted.label("converted"), revenue.label("revenue"))
            .select_from(Enrollment)
            .outerjoin(event, window)
            .where(cohort.where())
            .group_by(col(Enrollment.workflow_id))
        )
    rows = per_entry.subquery("entry")
    keys = (rows.c.version, rows.c.running, rows.c.exit_reason, rows.c.current_step)
    query = select(
        *keys,
        func.count(),
        func.coalesce(func.sum(rows.c.converted), 0),
        func.sum(rows.c.revenue),
        func.min(rows.c.entered_at),
    ).group_by(*keys)
    for name, running, reason, step, entered, converted_n, revenue_sum, first in session.execute(
        query
    ):
        row = counts[name]
        row.entered += entered
        row.converted += int(converted_n)
        row.revenue += Decimal(str(revenue_sum or 0))
        if first is not None and (row.first_entry is None or first < row.first_entry):
            row.first_entry = first
        if reason == "completed":
            row.completed += entered
        if running:
            row.in_progress += entered
            waiting = step or "(not started)"
            row.waiting[waiting] = row.waiting.get(waiting, 0) + entered
        else:
            label = reason or "(no reason)"
            row.exits[label] = row.exits.get(label, 0) + entered


def version_counts(session: Session, cohort: Cohort, goal: Goal | None) -> dict[str, VersionCounts]:
    counts: dict[str, VersionCounts] = defaultdict(VersionCounts)
    _add_entries(session, cohort, goal, counts)
    for row in counts.values():
        row.revenue = row.revenue.quantize(Decimal("0.01"))
    # Runs per step: a run that entered a step twice (resumed there) counts once.
    version, step_id = col(Enrollment.journey_version), col(JourneyStep.step_id)
    for name, step, count in session.execute(
        select(version, step_id, func.count(func.distinct(col(JourneyStep.workflow_id))))
        .join(Enrollment, col(Enrollment.workflow_id) == col(JourneyStep.workflow_id))
        .where(cohort.where(), cohort.step_rows())
        .group_by(version, step_id)
    ):
        counts[name].reached[step] = count
    return dict(counts)
