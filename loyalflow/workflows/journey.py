"""JourneyWorkflow: one run per (journey, member, entry), interpreting a definition snapshot.

Deterministic code only: time, randomness and ids come from `workflow.*`; all I/O is in activities.
"""

import contextlib
from datetime import datetime, timedelta
from typing import Literal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from loyalflow.models.journey import ExitStep, Journey, SendStep, Step, WaitStep
    from loyalflow.models.workflow_io import (
        AbandonRequest,
        JourneyInput,
        JourneyResult,
        MemberEvent,
        ProgressUpdate,
        SendRequest,
        SendResult,
        TrailEntry,
    )
    from loyalflow.workflows import search_attributes as sa

# Provider outages are retried with backoff for up to a day before the send is given up.
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
)
SEND_TIMEOUT = timedelta(minutes=2)
# The send activity heartbeats every 2 s: a worker that died mid-send is noticed this fast.
SEND_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
SEND_GIVE_UP_AFTER = timedelta(days=1)
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
DB_TIMEOUT = timedelta(seconds=30)


@workflow.defn
class JourneyWorkflow:
    @workflow.init
    def __init__(self, input: JourneyInput) -> None:
        # Set before any signal handler runs, so early events are never lost.
        self._input = input
        self._version = input.journey.version  # a content hash: computed once per run
        self._trail: list[TrailEntry] = []
        self._exit_reason: str | None = None
        self._seen_events: set[str] = set()

    @workflow.run
    async def run(self, input: JourneyInput) -> JourneyResult:
        journey = input.journey
        exit_reason = "completed"
        for index, step in enumerate(journey.steps):
            if self._exit_reason is not None:
                break
            workflow.upsert_search_attributes([sa.STEP.value_set(step.id)])
            await self._progress(current_step=step.id, entering=index == 0)
            outcome = await self._execute(journey, step)
            if outcome is not None:
                exit_reason = outcome
                break
        if self._exit_reason is not None:
            exit_reason = self._exit_reason
        self._note("exit", exit_reason)
        await self._progress(exit_reason=exit_reason)
        return JourneyResult(exit_reason=exit_reason, trail=self._trail)

    async def _execute(self, journey: Journey, step: Step) -> str | None:
        """Runs one step; returns an exit reason when the step ends the journey."""
        if isinstance(step, SendStep):
            await self._send(journey, step)
        elif isinstance(step, WaitStep):
            await self._wait(step)
        elif isinstance(step, ExitStep):
            self._note(step.id, "exit", step.reason)
            return step.reason
        return None

    async def _send(self, journey: Journey, step: SendStep) -> None:
        for index, channel in enumerate(step.channels):
            result = await self._send_on(journey, step, channel)
            last = index == len(step.channels) - 1
            if result is None or result.status != "skipped" or not result.fallback_ok or last:
                return
            self._note(step.id, "fallback", f"{channel} skipped, trying {step.channels[index + 1]}")

    async def _send_on(
        self, journey: Journey, step: SendStep, channel: Literal["email", "sms"]
    ) -> SendResult | None:
        """One message on one channel, waiting out deferrals; None if it ended in an error."""
        request = SendRequest(
            # Decided here, once: every retry and every deferral carries the same id.
            message_id=str(workflow.uuid4()),
            workflow_id=workflow.info().workflow_id,
            journey_id=journey.id,
            step_id=step.id,
            member_id=self._input.member_id,
            channel=channel,
            template=step.template,
            topic=journey.topic,
            due_at=workflow.now(),
        )
        while True:
            try:
                result: SendResult = await workflow.execute_activity(
                    "send_message",
                    request,
                    result_type=SendResult,
                    start_to_close_timeout=SEND_TIMEOUT,
                    heartbeat_timeout=SEND_HEARTBEAT_TIMEOUT,
                    schedule_to_close_timeout=SEND_GIVE_UP_AFTER,
                    retry_policy=SEND_RETRY,
                )
            except ActivityError as err:
                self._note(step.id, "failed", f"gave up after retries: {err.cause or err}")
                return None
            if result.status != "deferred" or result.retry_at is None:
                self._note(step.id, result.status, result.reason or result.subject)
                return result
            self._note(step.id, "deferred", result.reason)
            # A durable timer: costs nothing while it waits, and an exit signal cuts it short.
            if await self._sleep_until(result.retry_at):
                await workflow.execute_activity(
                    "abandon_message",
                    AbandonRequest(
                        message_id=request.message_id,
                        reason=f"journey exited while the message waited ({self._exit_reason})",
                    ),
                    start_to_close_timeout=DB_TIMEOUT,
                    retry_policy=DB_RETRY,
                )
                return None

    async def _sleep_until(self, until: datetime) -> bool:
        """Sleeps until `until`; True if the journey was told to exit meanwhile."""
        delay = until - workflow.now()
        if delay > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._exit_reason is not None, timeout=delay)
        return self._exit_reason is not None

    async def _wait(self, step: WaitStep) -> None:
        self._note(step.id, "waiting", f"for {step.duration}")
        try:
            await workflow.wait_condition(
                lambda: self._exit_reason is not None, timeout=step.duration
            )
        except TimeoutError:
            self._note(step.id, "waited")

    async def _progress(
        self,
        *,
        current_step: str | None = None,
        exit_reason: str | None = None,
        entering: bool = False,
    ) -> None:
        info = workflow.info()
        # Local: an idempotent DB upsert needs no task queue round trip through the server.
        await workflow.execute_local_activity(
            "record_progress",
            ProgressUpdate(
                workflow_id=info.workflow_id,
                journey_id=self._input.journey.id,
                journey_version=self._version,
                member_id=self._input.member_id,
                entry=self._input.entry,
                trigger_event_id=self._input.trigger.event_id,
                at=workflow.now(),
                entering=entering,
                current_step=current_step,
                exit_reason=exit_reason,
            ),
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )

    def _note(self, step: str, outcome: str, detail: str | None = None) -> None:
        self._trail.append(TrailEntry(at=workflow.now(), step=step, outcome=outcome, detail=detail))

    @workflow.signal
    def member_event(self, event: MemberEvent) -> None:
        # The router may deliver an event twice (retries); each event counts once.
        if event.event_id in self._seen_events:
            return
        self._seen_events.add(event.event_id)
        if self._exit_reason is None and self._input.journey.exits_on(event.type):
            self._exit_reason = f"exit_when: {event.type}"
            self._note("exit_when", "event", f"{event.type} {event.event_id}")

    @workflow.query
    def trail(self) -> list[TrailEntry]:
        return self._trail
