"""What a journey run writes down: its trail, its progress rows and its search attributes.

Batched runs (patch `batched-records`) keep progress and search-attribute changes back until the
run is about to wait, then write them in one go; `_flush` is called before anything that waits.
Deterministic code only (workflow time, no I/O but activities).
"""

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from loyalflow.models.journey import Journey
    from loyalflow.models.workflow_io import (
        JourneyInput,
        MemberEvent,
        ProgressBatch,
        ProgressUpdate,
        TrailEntry,
    )

DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
DB_TIMEOUT = timedelta(seconds=30)


class RunRecords:
    """The run's records; JourneyWorkflow sets these attributes in its `__init__`."""

    _input: JourneyInput
    _journey: Journey
    _version: str
    _trail: list[TrailEntry]
    _batched: bool
    _pending_progress: list[ProgressUpdate]
    _pending_search: dict[str, SearchAttributeUpdate[Any]]
    _unrecorded_goal: MemberEvent | None

    # --- records ----------------------------------------------------------------------------

    async def _record_goal(self) -> None:
        event, self._unrecorded_goal = self._unrecorded_goal, None
        assert event is not None
        await self._progress(converted_at=workflow.now(), goal_event_id=event.event_id)

    async def _progress(
        self,
        *,
        current_step: str | None = None,
        exit_reason: str | None = None,
        entering: bool = False,
        variant: str | None = None,
        converted_at: datetime | None = None,
        goal_event_id: str | None = None,
    ) -> None:
        update = ProgressUpdate(
            workflow_id=workflow.info().workflow_id,
            journey_id=self._journey.id,
            journey_version=self._version,
            member_id=self._input.member_id,
            entry=self._input.entry,
            trigger_event_id=self._input.trigger.event_id,
            at=workflow.now(),
            entering=entering,
            current_step=current_step,
            exit_reason=exit_reason,
            variant=variant,
            converted_at=converted_at,
            goal_event_id=goal_event_id,
        )
        if self._batched:
            self._pending_progress.append(update)
            return
        # Local: an idempotent DB upsert needs no task queue round trip through the server.
        await workflow.execute_local_activity(
            "record_progress", update, start_to_close_timeout=DB_TIMEOUT, retry_policy=DB_RETRY
        )

    def _upsert(self, update: SearchAttributeUpdate[Any]) -> None:
        if self._batched:
            self._pending_search[update.key.name] = update
        else:
            workflow.upsert_search_attributes([update])

    async def _flush(self) -> None:
        """Writes what batched runs kept back; called before anything that waits."""
        if self._pending_search:
            updates, self._pending_search = list(self._pending_search.values()), {}
            workflow.upsert_search_attributes(updates)
        if self._pending_progress:
            batch, self._pending_progress = ProgressBatch(updates=self._pending_progress), []
            await workflow.execute_local_activity(
                "record_progress_batch",
                batch,
                start_to_close_timeout=DB_TIMEOUT,
                retry_policy=DB_RETRY,
            )

    def _note(self, step: str, outcome: str, detail: str | None = None) -> None:
        self._trail.append(TrailEntry(at=workflow.now(), step=step, outcome=outcome, detail=detail))

    async def _db_activity(
        self, name: str, argument: object, result_type: type[Any] | None = None
    ) -> Any:
        """A database activity, after what the run kept back is written (it is about to wait)."""
        await self._flush()
        return await workflow.execute_activity(
            name,
            argument,
            result_type=result_type,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
