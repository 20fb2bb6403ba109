"""Enrollment rows: what support staff read about a member's journeys, long after history expires."""

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select
from temporalio import activity

from loyalflow.models.db import connection_scope
from loyalflow.models.tables import Enrollment, JourneyStep
from loyalflow.models.workflow_io import ProgressBatch, ProgressUpdate
from loyalflow.observability.metrics import exit_kind, journeys_entered, journeys_exited

ENROLLMENT: Table = Enrollment.__table__  # type: ignore[attr-defined]
JOURNEY_STEP: Table = JourneyStep.__table__  # type: ignore[attr-defined]
# The columns of a run's enrollment row that a batch reads or changes (the rest are set once).
ROW = (
    "journey_id",
    "entered_at",
    "current_step",
    "variant",
    "converted_at",
    "goal_event_id",
    "exited_at",
    "exit_reason",
)


@dataclass
class _Folded:
    """A batch's updates applied in order to the run's row as read: what to write back."""

    row: dict[str, Any]
    changed: set[str] = field(default_factory=set)
    steps: dict[tuple[str, datetime], ProgressUpdate] = field(default_factory=dict)
    entered: list[str] = field(default_factory=list)
    exited: list[tuple[str, str]] = field(default_factory=list)

    def set(self, column: str, value: object) -> None:
        self.row[column] = value
        self.changed.add(column)

    def apply(self, update: ProgressUpdate) -> None:
        row = self.row
        if update.entering:
            self.set("entered_at", update.at)  # workflow time: the router's guess is replaced
            if row["current_step"] is None:
                self.entered.append(row["journey_id"])
        if update.current_step is not None:
            self.set("current_step", update.current_step)
            self.steps.setdefault((update.current_step, update.at), update)
        if update.variant is not None:
            self.set("variant", update.variant)
        if update.converted_at is not None and row["converted_at"] is None:
            self.set("converted_at", update.converted_at)
            self.set("goal_event_id", update.goal_event_id)
        if update.exit_reason is not None and row["exited_at"] is None:
            self.set("exited_at", update.at)
            self.set("exit_reason", update.exit_reason)
            self.exited.append((row["journey_id"], update.exit_reason))


def record_progress_sync(url: str, update: ProgressUpdate) -> None:
    record_progress_batch_sync(url, ProgressBatch(updates=[update]))


def record_progress_batch_sync(url: str, batch: ProgressBatch) -> None:
    """A run's updates since its last wait, in order, in one transaction of a few statements:
    its enrollment row read once and written once, the steps it entered inserted together.

    Entries and exits are counted once committed, and only as the row changes (first step
    recorded, exit recorded): a retried batch finds them recorded and counts nothing twice.
    """
    if not batch.updates:
        return
    with connection_scope(url) as connection:
        folded = _fold(connection, batch.updates)
        _record_steps(connection, folded.steps)
    for journey_id in folded.entered:
        journeys_entered.labels(journey=journey_id).inc()
    for journey_id, reason in folded.exited:
        journeys_exited.labels(journey=journey_id, reason=exit_kind(reason)).inc()


def _fold(connection: Connection, updates: list[ProgressUpdate]) -> _Folded:
    first = updates[0]
    workflow_id = first.workflow_id
    found = connection.execute(
        select(*(ENROLLMENT.c[name] for name in ROW))
        .where(ENROLLMENT.c.workflow_id == workflow_id)
        .with_for_update()
    ).first()
    if found is None:  # the router records it before the start; a run started otherwise
        folded = _Folded(
            row={name: None for name in ROW}
            | {"journey_id": first.journey_id, "entered_at": first.at}
        )
    else:
        folded = _Folded(row=dict(found._mapping))
    for update in updates:
        folded.apply(update)
    if found is None:
        connection.execute(
            ENROLLMENT.insert().values(
                workflow_id=workflow_id,
                journey_version=first.journey_version,
                member_id=first.member_id,
                entry=first.entry,
                trigger_event_id=first.trigger_event_id,
                **folded.row,
            )
        )
    elif folded.changed:
        connection.execute(
            ENROLLMENT.update()
            .where(ENROLLMENT.c.workflow_id == workflow_id)
            .values({name: folded.row[name] for name in folded.changed})
        )
    return folded


def _record_steps(
    connection: Connection, steps: dict[tuple[str, datetime], ProgressUpdate]
) -> None:
    """One `journey_step` row per step entered; a retried local activity adds no second row."""
    if not steps:
        return
    workflow_id = next(iter(steps.values())).workflow_id
    recorded = connection.execute(
        select(JOURNEY_STEP.c.step_id, JOURNEY_STEP.c.at).where(
            JOURNEY_STEP.c.workflow_id == workflow_id,
            JOURNEY_STEP.c.step_id.in_({step for step, _ in steps}),
        )
    )
    new = dict(steps)
    for step_id, at in recorded:
        new.pop((step_id, at), None)
    if new:
        connection.execute(
            JOURNEY_STEP.insert(),
            [
                {
                    "workflow_id": u.workflow_id,
                    "member_id": u.member_id,
                    "journey_id": u.journey_id,
                    "step_id": step_id,
                    "at": at,
                }
                for (step_id, at), u in new.items()
            ],
        )


class EnrollmentActivities:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    @activity.defn(name="record_progress")
    async def record_progress(self, update: ProgressUpdate) -> None:
        """Kept for runs started before progress was batched (their histories name it)."""
        await asyncio.to_thread(record_progress_sync, self.database_url, update)

    @activity.defn(name="record_progress_batch")
    async def record_progress_batch(self, batch: ProgressBatch) -> None:
        await asyncio.to_thread(record_progress_batch_sync, self.database_url, batch)
