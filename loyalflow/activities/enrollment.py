"""Enrollment rows: what support staff read about a member's journeys, long after history expires."""

import asyncio

from sqlmodel import Session, select
from temporalio import activity

from loyalflow.models.db import session_scope
from loyalflow.models.tables import Enrollment, JourneyStep
from loyalflow.models.workflow_io import ProgressBatch, ProgressUpdate
from loyalflow.observability.metrics import exit_kind, journeys_entered, journeys_exited


def record_progress_sync(url: str, update: ProgressUpdate) -> None:
    record_progress_batch_sync(url, ProgressBatch(updates=[update]))


def record_progress_batch_sync(url: str, batch: ProgressBatch) -> None:
    """A run's updates since its last wait, in order, in one transaction.

    Entries and exits are counted once committed, and only as the row changes (first step
    recorded, exit recorded): a retried batch finds them recorded and counts nothing twice.
    """
    entered: list[str] = []
    exited: list[tuple[str, str]] = []
    with session_scope(url) as session:
        for update in batch.updates:
            _apply(session, update, entered, exited)
    for journey_id in entered:
        journeys_entered.labels(journey=journey_id).inc()
    for journey_id, reason in exited:
        journeys_exited.labels(journey=journey_id, reason=exit_kind(reason)).inc()


def _apply(
    session: Session,
    update: ProgressUpdate,
    entered: list[str],
    exited: list[tuple[str, str]],
) -> None:
    row = session.get(Enrollment, update.workflow_id)
    if row is None:
        row = Enrollment(
            workflow_id=update.workflow_id,
            journey_id=update.journey_id,
            journey_version=update.journey_version,
            member_id=update.member_id,
            entry=update.entry,
            trigger_event_id=update.trigger_event_id,
            entered_at=update.at,
        )
    if update.entering:
        row.entered_at = update.at  # workflow time: the router's guess is replaced
        if row.current_step is None:
            entered.append(row.journey_id)
    if update.current_step is not None:
        row.current_step = update.current_step
        _record_step(session, update)
    if update.variant is not None:
        row.variant = update.variant
    if update.converted_at is not None and row.converted_at is None:
        row.converted_at = update.converted_at
        row.goal_event_id = update.goal_event_id
    if update.exit_reason is not None and row.exited_at is None:
        row.exited_at = update.at
        row.exit_reason = update.exit_reason
        exited.append((row.journey_id, update.exit_reason))
    session.add(row)


def _record_step(session: Session, update: ProgressUpdate) -> None:
    """One `journey_step` row per step entered; a retried local activity adds no second row."""
    assert update.current_step is not None
    seen = session.exec(
        select(JourneyStep.id).where(
            JourneyStep.workflow_id == update.workflow_id,
            JourneyStep.step_id == update.current_step,
            JourneyStep.at == update.at,
        )
    ).first()
    if seen is None:
        session.add(
            JourneyStep(
                workflow_id=update.workflow_id,
                member_id=update.member_id,
                journey_id=update.journey_id,
                step_id=update.current_step,
                at=update.at,
            )
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
