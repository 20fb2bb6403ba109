"""The journey interpreter's step handlers: send, branch, split, update, exit (waits: waits.py).

Each handler returns the next step's id, END, or an `Exit`. Deterministic code only: time,
randomness and ids come from `workflow.*`; all I/O is in activities. A change in the commands a
handler issues for an existing definition must be guarded with `workflow.patched` (replay tests).
"""

from typing import Literal

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from loyalflow.models.experiments import assign_variant
    from loyalflow.models.journey import (
        BranchStep,
        ExitStep,
        SendStep,
        SplitStep,
        Step,
        UpdateStep,
        WaitForStep,
        WaitStep,
    )
    from loyalflow.models.workflow_io import (
        AbandonRequest,
        AssignmentRequest,
        SendRequest,
        SendResult,
        UpdateRequest,
    )
    from loyalflow.workflows import search_attributes as sa
    from loyalflow.workflows.run_records import DB_RETRY, DB_TIMEOUT
    from loyalflow.workflows.sending import send_message
    from loyalflow.workflows.waits import Exit, Outcome, WaitHandlers


class StepInterpreter(WaitHandlers):
    """The step handlers, each returning where the run goes next."""

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
            return Exit(step.reason)
        if self._exit_reason is not None:
            return Exit(self._exit_reason)
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
            return Exit("holdout")
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
