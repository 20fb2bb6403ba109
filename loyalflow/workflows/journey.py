"""JourneyWorkflow: one run per (journey, member, entry), interpreting a definition snapshot.

Deterministic code only: time, randomness and ids come from `workflow.*`; all I/O is in activities.
The interpreter walks the step graph; every wait is a durable timer that an exit (event, update)
cuts short. Histories recorded from earlier versions of this code are replayed by
tests/workflows/test_replay.py: a change in the commands issued for an existing definition must be
guarded with `workflow.patched`.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from loyalflow.models.conditions import Condition, parse_condition
    from loyalflow.models.experiments import assign_variant
    from loyalflow.models.journey import (
        END,
        BranchStep,
        EventRule,
        ExitStep,
        SendStep,
        SplitStep,
        Step,
        UpdateStep,
        WaitForStep,
        WaitStep,
        format_duration,
    )
    from loyalflow.models.workflow_io import (
        AbandonRequest,
        AssignmentRequest,
        ExitRequest,
        JourneyInput,
        JourneyResult,
        MemberEvent,
        MemberFacts,
        MemberFactsRequest,
        ProgressBatch,
        ProgressUpdate,
        Resume,
        SendRequest,
        SendResult,
        TrailEntry,
        UpdateRequest,
    )
    from loyalflow.workflows import search_attributes as sa
    from loyalflow.workflows.sending import send_message
    from loyalflow.workflows.timing import date_wait_target, next_local_time

# Runs started before this patch record progress and search attributes at every step; later runs
# keep them until the run is about to wait (activity, timer, event), then write them in one go:
# fewer workflow tasks, local activities and visibility writes for the same observable state.
BATCHED_RECORDS = "batched-records"
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
DB_TIMEOUT = timedelta(seconds=30)
# What a continued run carries over: enough for `trail` to tell the recent story.
CARRIED_TRAIL = 50
CARRIED_EVENT_IDS = 200


class _Exit:
    def __init__(self, reason: str) -> None:
        self.reason = reason


Outcome = str | None | _Exit  # the next step's id, the end of the steps, or an exit


@workflow.defn
class JourneyWorkflow:
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
            if isinstance(outcome, _Exit):
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

    def _after(self, step_id: str) -> str | None:
        return self._journey.after(step_id)

    async def _execute(self, step: Step) -> Outcome:
        if isinstance(step, SendStep):
            await self._send(step)
        elif isinstance(step, WaitStep):
            await self._wait(step)
        elif isinstance(step, WaitForStep):
            return await self._wait_for(step)
        elif isinstance(step, BranchStep):
            return await self._branch(step)
        elif isinstance(step, SplitStep):
            return await self._split(step)
        elif isinstance(step, UpdateStep):
            await self._update(step)
        elif isinstance(step, ExitStep):
            self._note(step.id, "exit", step.reason)
            return _Exit(step.reason)
        if self._exit_reason is not None:
            return _Exit(self._exit_reason)
        return step.next or self._after(step.id)

    # --- send -------------------------------------------------------------------------------

    async def _send(self, step: SendStep) -> None:
        for index, channel in enumerate(step.channels):
            result = await self._send_on(step, channel)
            last = index == len(step.channels) - 1
            # Skipped (no contact, consent) or refused for this address (bounce, opted out).
            unreachable = result is not None and result.status in ("skipped", "failed")
            if result is None or not unreachable or not result.fallback_ok or last:
                return
            self._note(
                step.id, "fallback", f"{channel} {result.status}, trying {step.channels[index + 1]}"
            )

    async def _send_on(self, step: SendStep, channel: Literal["email", "sms"]) -> SendResult | None:
        """One message on one channel, waiting out deferrals; None if it ended in an error."""
        request = SendRequest(
            # Decided here, once: every retry and every deferral carries the same id.
            message_id=str(workflow.uuid4()),
            workflow_id=workflow.info().workflow_id,
            journey_id=self._journey.id,
            step_id=step.id,
            member_id=self._input.member_id,
            channel=channel,
            template=step.template,
            topic=self._journey.topic,
            due_at=workflow.now(),
            variant=self._variant,
            trigger=self._input.trigger.properties,
            params=step.params,
            quiet_hours=(self._journey.quiet_hours or {}).get(channel),
        )
        while True:
            await self._flush()
            try:
                result = await send_message(request)
            except ActivityError as err:
                self._note(step.id, "failed", f"gave up after retries: {err.cause or err}")
                return None
            if result.status != "deferred" or result.retry_at is None:
                self._note(step.id, result.status, result.reason or result.subject)
                return result
            self._note(step.id, "deferred", result.reason)
            # A durable timer: costs nothing while it waits, and an exit cuts it short.
            await self._sleep_until(result.retry_at)
            if self._exit_reason is not None:
                await self._db_activity(
                    "abandon_message",
                    AbandonRequest(
                        message_id=request.message_id,
                        reason=f"journey exited while the message waited ({self._exit_reason})",
                    ),
                )
                return None

    # --- waits ------------------------------------------------------------------------------

    async def _sleep_until(self, until: datetime, woken: Callable[[], bool] | None = None) -> bool:
        """Sleeps until `until`, an exit, or `woken()`; True only when `woken()` ended it.

        A goal reached meanwhile is recorded at once and the sleep goes on."""
        while True:
            delay = until - workflow.now()
            if delay <= timedelta(0):
                return False
            await self._flush()
            try:
                await workflow.wait_condition(
                    lambda: (
                        self._exit_reason is not None
                        or self._unrecorded_goal is not None
                        or (woken is not None and woken())
                    ),
                    timeout=delay,
                )
            except TimeoutError:
                return False
            if self._exit_reason is not None:
                return False
            if self._unrecorded_goal is not None:
                await self._record_goal()
                continue
            return True

    async def _wait(self, step: WaitStep) -> None:
        now = workflow.now()
        until = now + step.duration if step.duration else now
        if step.needs_member_clock:
            fields = ["timezone"] + (
                [step.until_date.removeprefix("member.")] if step.until_date else []
            )
            facts = await self._facts(fields)
            timezone = str(facts.get("timezone") or "UTC")
            if step.until_date is not None:
                target = date_wait_target(
                    _lookup(facts, step.until_date.removeprefix("member.")),
                    timezone,
                    now,
                    offset=step.offset,
                    at=step.at,
                    each_year=step.each_year,
                )
                if target is None or target < now:
                    why = "has no date" if target is None else f"date passed ({target:%Y-%m-%d})"
                    self._note(step.id, "skipped", f"{step.until_date} {why}")
                    return
                until = target
            elif step.at is not None:
                until = next_local_time(until, timezone, step.at, step.on_days)
            self._note(step.id, "waiting", f"until {until:%Y-%m-%d %H:%M} UTC ({timezone})")
        else:
            self._note(step.id, "waiting", f"for {format_duration(step.duration or timedelta(0))}")
        await self._sleep_until(until)
        self._unwaited_from = len(self._received)
        if self._exit_reason is None:
            self._note(step.id, "waited")

    async def _wait_for(self, step: WaitForStep) -> Outcome:
        rule = EventRule(event=step.event, condition=step.condition)
        start = self._unwaited_from

        def matched() -> MemberEvent | None:
            return next((e for e in self._received[start:] if self._matches(rule, e)), None)

        self._note(step.id, "waiting", f"for {step.event}, at most {format_duration(step.timeout)}")
        self._waiting_for = step
        try:
            await self._sleep_until(workflow.now() + step.timeout, lambda: matched() is not None)
        finally:
            self._waiting_for = None
            self._unwaited_from = len(self._received)
        if self._exit_reason is not None:
            return _Exit(self._exit_reason)
        event = matched()
        if event is not None:
            self._note(step.id, "event", f"{event.type} {event.event_id}")
            return step.on_event or self._after(step.id)
        self._note(step.id, "timed out", f"no {step.event} within {format_duration(step.timeout)}")
        return step.on_timeout or self._after(step.id)

    # --- decisions --------------------------------------------------------------------------

    async def _branch(self, step: BranchStep) -> Outcome:
        conditions = [self._condition(case.when) for case in step.branches]
        fields = sorted({name for c in conditions for name in c.member_fields()})
        member = await self._facts(fields) if fields else {}
        for case, condition in zip(step.branches, conditions, strict=True):
            if condition.evaluate(member, self._input.trigger.properties, workflow.now()):
                self._note(step.id, "branch", f"{case.when} -> {case.next}")
                return case.next
        target = step.default or self._after(step.id)
        self._note(step.id, "branch", f"default -> {target or 'end'}")
        return target

    async def _split(self, step: SplitStep) -> Outcome:
        experiment = step.experiment or f"{self._journey.id}.{step.id}"
        chosen = assign_variant(experiment, self._input.member_id, step.groups)
        assignment = AssignmentRequest(
            experiment=experiment,
            member_id=self._input.member_id,
            variant=chosen,
            variants=[name for name, _ in step.groups],
        )
        # Batched runs record it locally: a one-row upsert needs no round trip through the server.
        execute = workflow.execute_local_activity if self._batched else workflow.execute_activity
        variant: str = await execute(
            "record_assignment",
            assignment,
            result_type=str,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        self._variant = variant
        self._upsert(sa.VARIANT.value_set(variant))
        await self._progress(variant=variant)
        self._note(step.id, "variant", f"{experiment}: {variant}")
        if variant == "holdout":
            return _Exit("holdout")
        target = next(v.next for v in step.variants if v.name == variant)
        return target or self._after(step.id)

    async def _update(self, step: UpdateStep) -> None:
        await self._db_activity(
            "apply_update",
            UpdateRequest(
                event_id=f"journey/{workflow.info().workflow_id}/{step.id}/{workflow.uuid4()}",
                member_id=self._input.member_id,
                occurred_at=workflow.now(),
                journey_id=self._journey.id,
                step_id=step.id,
                award_points=step.award_points,
                set=step.set,
                add_tag=step.add_tag,
            ),
        )
        done = [
            f"+{step.award_points} points" if step.award_points else "",
            f"set {', '.join(step.set)}" if step.set else "",
            f"tag {step.add_tag}" if step.add_tag else "",
        ]
        self._note(step.id, "updated", "; ".join(d for d in done if d))

    async def _facts(self, fields: list[str]) -> dict[str, object]:
        facts: MemberFacts = await self._db_activity(
            "load_member_facts",
            MemberFactsRequest(member_id=self._input.member_id, fields=fields),
            MemberFacts,
        )
        return facts.values

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

    def _condition(self, text: str) -> Condition:
        if text not in self._conditions:
            self._conditions[text] = parse_condition(text)
        return self._conditions[text]

    def _matches(self, rule: EventRule, event: MemberEvent) -> bool:
        if rule.event != event.type:
            return False
        if rule.condition is None:
            return True
        return self._condition(rule.condition).evaluate({}, event.properties, workflow.now())

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


def _lookup(values: dict[str, object], path: str) -> object:
    """`attributes.birthday` -> values['attributes']['birthday']."""
    current: object = values
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current
