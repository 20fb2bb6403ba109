"""JourneyWorkflow: one run per (journey, member, entry), interpreting a definition snapshot.

Deterministic code only: time, randomness and ids come from `workflow.*`; all I/O is in activities.
The interpreter walks the step graph; every wait is a durable timer that an exit (event, update)
cuts short. Histories recorded from earlier versions of this code are replayed by
tests/workflows/test_replay.py: a change in the commands issued for an existing definition must be
guarded with `workflow.patched`.
"""

from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from loyalflow.models.conditions import Condition
    from loyalflow.models.journey import END, WaitForStep
    from loyalflow.models.workflow_io import (
        ExitRequest,
        JourneyInput,
        JourneyResult,
        MemberEvent,
        ProgressUpdate,
        Resume,
        TrailEntry,
    )
    from loyalflow.workflows import search_attributes as sa
    from loyalflow.workflows.steps import StepInterpreter
    from loyalflow.workflows.waits import Exit

# Runs started before this patch record progress and search attributes at every step; later runs
# keep them until the run is about to wait (activity, timer, event), then write them in one go:
# fewer workflow tasks, local activities and visibility writes for the same observable state.
BATCHED_RECORDS = "batched-records"
# What a continued run carries over: enough for `trail` to tell the recent story.
CARRIED_TRAIL = 50
CARRIED_EVENT_IDS = 200


@workflow.defn
class JourneyWorkflow(StepInterpreter):
    @workflow.init
    def __init__(self, input: JourneyInput) -> None:
        # Set before any signal handler runs, so early events are never lost.
        self._input = input
        self._journey = input.journey
        self._version = input.version or input.journey.version
        resume = input.resume
        self._trail: list[TrailEntry] = list(resume.trail) if resume else []
        self._seen_events: set[str] = set(resume.seen_events) if resume else set()
        self._variant: str | None = resume.variant if resume else None
        self._converted = resume.converted if resume else False
        self._entered_at: datetime = resume.entered_at if resume else workflow.now()
        self._exit_reason: str | None = None
        self._received: list[MemberEvent] = []  # this run's events, for `wait_for`
        # A wait_for also counts what arrived since the last wait ended (e.g. a purchase made
        # while the thank-you email was being sent), not only what comes after it starts.
        self._unwaited_from = 0
        self._waiting_for: WaitForStep | None = None
        self._unrecorded_goal: MemberEvent | None = None
        self._conditions: dict[str, Condition] = {}
        self._batched = False
        self._pending_progress: list[ProgressUpdate] = []
        self._pending_search: dict[str, SearchAttributeUpdate[Any]] = {}

    @workflow.run
    async def run(self, input: JourneyInput) -> JourneyResult:
        journey = input.journey
        steps = {step.id: step for step in journey.steps}
        current: str | None = input.resume.step if input.resume else journey.steps[0].id
        exit_reason = "completed"
        executed = 0
        self._batched = workflow.patched(BATCHED_RECORDS)
        while current is not None and self._exit_reason is None:
            if executed and (
                executed >= input.max_steps_per_run
                or workflow.info().is_continue_as_new_suggested()
            ):
                await self._flush()
                self._continue_as_new(current)
            step = steps[current]
            self._upsert(sa.STEP.value_set(step.id))
            await self._progress(current_step=step.id, entering=executed == 0 and not input.resume)
            executed += 1
            outcome = await self._execute(step)
            if isinstance(outcome, Exit):
                exit_reason = outcome.reason
                break
            current = None if outcome == END else outcome
        if self._exit_reason is not None:
            exit_reason = self._exit_reason
        self._note("exit", exit_reason)
        goal, self._unrecorded_goal = self._unrecorded_goal, None
        await self._progress(
            exit_reason=exit_reason,
            converted_at=workflow.now() if goal else None,
            goal_event_id=goal.event_id if goal else None,
        )
        await self._flush()
        return JourneyResult(exit_reason=exit_reason, trail=self._trail)

    def _continue_as_new(self, step: str) -> None:
        run = (self._input.resume.run + 1) if self._input.resume else 2
        # Noted before the trail is carried over: the next run's trail shows the continuation.
        self._note(step, "continued", f"as run {run}, history kept small")
        resume = Resume(
            step=step,
            entered_at=self._entered_at,
            variant=self._variant,
            converted=self._converted,
            trail=self._trail[-CARRIED_TRAIL:],
            seen_events=sorted(self._seen_events)[-CARRIED_EVENT_IDS:],
            run=run,
        )
        workflow.continue_as_new(self._input.model_copy(update={"resume": resume}))

    # --- handlers ---------------------------------------------------------------------------

    @workflow.signal
    def member_event(self, event: MemberEvent) -> None:
        # The router may deliver an event twice (retries); each event counts once.
        if event.event_id in self._seen_events:
            return
        self._seen_events.add(event.event_id)
        self._received.append(event)
        self._check_goal(event)
        if self._exit_reason is not None:
            return
        waiting = self._waiting_for
        if waiting is not None and waiting.event == event.type:
            return  # the step waiting for this event handles it, rather than an exit rule
        for rule in self._journey.exit_when:
            if self._matches(rule, event):
                self._exit_reason = f"exit_when: {event.type}"
                self._note("exit_when", "event", f"{event.type} {event.event_id}")
                return

    def _check_goal(self, event: MemberEvent) -> None:
        goal = self._journey.goal
        if goal is None or self._converted:
            return
        if event.occurred_at - self._entered_at > goal.within or not self._matches(goal, event):
            return
        self._converted = True
        self._unrecorded_goal = event
        self._note("goal", "converted", f"{event.type} {event.event_id}")

    @workflow.update
    def exit(self, request: ExitRequest) -> str:
        self._exit_reason = f"exited by {request.by}: {request.reason}"
        self._note("exit", "requested", self._exit_reason)
        return self._exit_reason

    @exit.validator
    def _exit_allowed(self, request: ExitRequest) -> None:
        if self._exit_reason is not None:
            raise ValueError(f"the journey is already exiting ({self._exit_reason})")

    @workflow.query
    def trail(self) -> list[TrailEntry]:
        return self._trail

    @workflow.query
    def variant(self) -> str | None:
        return self._variant
