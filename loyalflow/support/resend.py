"""Re-sending a failed message for support staff: a new id derived from the old one, a
RetrySendWorkflow started once per failed message, and the old ledger row annotated and audited.
"""

import asyncio
import uuid

from sqlmodel import col, select
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.journey import SendStep
from loyalflow.models.tables import (
    Enrollment,
    Event,
    Message,
    MessageStatus,
    SupportAction,
)
from loyalflow.models.workflow_io import SendRequest, SendResult
from loyalflow.support.runs import SupportError
from loyalflow.support.timeline_entries import load_definition
from loyalflow.workflows.retry_send import RetrySendWorkflow

# One namespace for the ids of re-sent messages: a repeated command gives the same new id.
_RETRY_NAMESPACE = uuid.UUID("5f0b6a36-3a7e-4c1e-9a59-1c8d2f0e7b11")


def _retry_request(url: str, message_id: str, new_id: str) -> SendRequest:
    """The failed message's request again (same member, step, template, params, trigger
    properties from the run's definition snapshot and trigger event), under `new_id`."""
    with session_scope(url) as session:
        row = session.get(Message, message_id)
        if row is None:
            raise SupportError(f"no message {message_id!r}")
        if row.status != MessageStatus.FAILED:
            raise SupportError(
                f"message {message_id} is {row.status}; only failed messages can be re-sent"
            )
        run = session.get(Enrollment, row.workflow_id)
        journey = load_definition(session, run.journey_id, run.journey_version) if run else None
        step = next((s for s in journey.steps if s.id == row.step_id), None) if journey else None
        trigger = session.get(Event, run.trigger_event_id) if run and run.trigger_event_id else None
        quiet = (journey.quiet_hours or {}).get(row.channel) if journey else None  # type: ignore[call-overload]
        return SendRequest(
            message_id=new_id,
            workflow_id=row.workflow_id,
            journey_id=row.journey_id,
            step_id=row.step_id,
            member_id=row.member_id,
            channel=row.channel,
            template=row.template,
            topic=row.topic or (journey.topic if journey else ""),
            due_at=row.created_at,
            variant=row.variant,
            trigger=trigger.properties if trigger else {},
            params=step.params if isinstance(step, SendStep) else {},
            quiet_hours=quiet,
        )


def _record_retry(url: str, old_id: str, new_id: str, by: str, retry_workflow_id: str) -> None:
    with session_scope(url) as session:
        seen = session.exec(
            select(SupportAction).where(
                SupportAction.action == "retry_send", SupportAction.message_id == old_id
            )
        ).first()
        if seen is not None:
            return
        old = session.get(Message, old_id)
        assert old is not None
        note = f" [re-sent as {new_id} by {by}]"
        old.reason = ((old.reason or "")[: 500 - len(note)] + note).strip()
        session.add(old)
        session.add(
            SupportAction(
                by=by,
                action="retry_send",
                member_id=old.member_id,
                workflow_id=old.workflow_id,
                message_id=old_id,
                new_message_id=new_id,
                detail=f"run {retry_workflow_id}",
            )
        )


def retry_workflow_id(message_id: str) -> str:
    return f"retry-send-{message_id}"


async def retry_send(
    client: Client, settings: Settings, message_id: str, by: str
) -> tuple[str, SendResult]:
    """Re-sends a failed message under a new id (the old row is kept, with a note pointing to
    the new one); returns the new id and the outcome. Repeating the command for the same
    message starts nothing more: it returns the first retry's outcome."""
    url = settings.effective_database_url
    new_id = str(uuid.uuid5(_RETRY_NAMESPACE, message_id))
    request = await asyncio.to_thread(_retry_request, url, message_id, new_id)
    workflow_id = retry_workflow_id(message_id)
    try:
        handle = await client.start_workflow(
            RetrySendWorkflow.run,
            request,
            id=workflow_id,
            task_queue=settings.temporal_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        handle = client.get_workflow_handle(workflow_id, result_type=SendResult)
    await asyncio.to_thread(_record_retry, url, message_id, new_id, by, workflow_id)
    try:
        result = await handle.result()
    except WorkflowFailureError as err:
        raise SupportError(f"the re-send {workflow_id} failed: {err.cause or err}") from err
    return new_id, result


def retried(url: str, message_id: str) -> str | None:
    """The id a failed message was re-sent as, if it was."""
    with session_scope(url) as session:
        return session.exec(
            select(SupportAction.new_message_id)
            .where(SupportAction.action == "retry_send", SupportAction.message_id == message_id)
            .order_by(col(SupportAction.at))
        ).first()
