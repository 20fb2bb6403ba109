"""Waiting and reading in a journey run: durable timers cut short by exits, `wait_for`,
member facts and condition evaluation. Deterministic code only (workflow time, no I/O).
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from loyalflow.models.conditions import Condition, parse_condition
    from loyalflow.models.durations import format_duration
    from loyalflow.models.journey import EventRule, WaitForStep, WaitStep
    from loyalflow.models.workflow_io import MemberEvent, MemberFacts, MemberFactsRequest
    from loyalflow.workflows.run_records import RunRecords
    from loyalflow.workflows.timing import date_wait_target, next_local_time


class Exit:
    def __init__(self, reason: str) -> None:
        self.reason = reason


Outcome = str | None | Exit  # the next step's id, the end of the steps, or an exit


class WaitHandlers(RunRecords):
    """Waits and reads; JourneyWorkflow sets these attributes in its `__init__`."""

    _variant: str | None
    _exit_reason: str | None
    _received: list[MemberEvent]
    _unwaited_from: int
    _waiting_for: WaitForStep | None
    _conditions: dict[str, Condition]

    def _after(self, step_id: str) -> str | None:
        return self._journey.after(step_id)

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
            return Exit(self._exit_reason)
        event = matched()
        if event is not None:
            self._note(step.id, "event", f"{event.type} {event.event_id}")
            return step.on_event or self._after(step.id)
        self._note(step.id, "timed out", f"no {step.event} within {format_duration(step.timeout)}")
        return step.on_timeout or self._after(step.id)

    async def _facts(self, fields: list[str]) -> dict[str, object]:
        facts: MemberFacts = await self._db_activity(
            "load_member_facts",
            MemberFactsRequest(member_id=self._input.member_id, fields=fields),
            MemberFacts,
        )
        return facts.values

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


def _lookup(values: dict[str, object], path: str) -> object:
    """`attributes.birthday` -> values['attributes']['birthday']."""
    current: object = values
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current
