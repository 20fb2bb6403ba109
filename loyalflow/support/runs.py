"""Journey runs for support staff: find them (visibility over the custom search attributes), read
their trail, exit one with a reason, re-send a failed message (resend.py). Exits and re-sends are audited in
`support_action` with who did them, and show in the member's timeline.
"""

import asyncio
import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlmodel import col, select
from temporalio.client import Client, WorkflowExecutionStatus

from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.support_view import AmbiguousSend
from loyalflow.models.tables import (
    Enrollment,
    JourneyStep,
    Message,
    SupportAction,
)
from loyalflow.models.workflow_io import ExitRequest, JourneyResult
from loyalflow.support.timeline import query_trail
from loyalflow.workflows import search_attributes as sa

RunStatus = Literal["running", "completed", "failed", "terminated", "canceled", "timed_out"]
STATUS_QUERY: dict[str, str] = {
    "running": "Running",
    "completed": "Completed",
    "failed": "Failed",
    "terminated": "Terminated",
    "canceled": "Canceled",
    "timed_out": "TimedOut",
}
# Values go into a visibility query between quotes: ids and step names only.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9._:@#-]{1,255}$")


class SupportError(Exception):
    """A request support staff can fix (unknown id, wrong state); the message says how."""


class RunSummary(BaseModel):
    workflow_id: str
    run_id: str | None
    status: str
    journey_id: str | None
    member_id: str | None
    step: str | None
    variant: str | None
    started_at: datetime | None
    closed_at: datetime | None


class RunLine(BaseModel):
    at: datetime
    step: str
    outcome: str
    detail: str | None = None


class RunView(BaseModel):
    workflow_id: str
    status: str
    source: Literal["query", "result", "database"]  # where the trail comes from
    exit_reason: str | None = None
    lines: list[RunLine]


def _quoted(name: str, value: str) -> str:
    if not _SAFE_VALUE.fullmatch(value):
        raise SupportError(f"{name} {value!r}: only letters, digits and ._:@#- are allowed")
    return f"'{value}'"


def visibility_query(
    journey: str | None = None,
    member: str | None = None,
    status: str | None = None,
    step: str | None = None,
) -> str:
    parts = ["WorkflowType = 'JourneyWorkflow'"]
    if journey:
        parts.append(f"{sa.JOURNEY_ID.name} = {_quoted('journey', journey)}")
    if member:
        parts.append(f"{sa.MEMBER_ID.name} = {_quoted('member', member)}")
    if step:
        parts.append(f"{sa.STEP.name} = {_quoted('step', step)}")
    if status:
        if status not in STATUS_QUERY:
            raise SupportError(f"status {status!r}: one of {', '.join(STATUS_QUERY)}")
        parts.append(f"ExecutionStatus = '{STATUS_QUERY[status]}'")
    return " AND ".join(parts)


def _status(value: WorkflowExecutionStatus | None) -> str:
    return value.name.lower() if value is not None else "unknown"


async def list_runs(
    client: Client,
    *,
    journey: str | None = None,
    member: str | None = None,
    status: str | None = None,
    step: str | None = None,
    limit: int = 200,
) -> list[RunSummary]:
    query = visibility_query(journey, member, status, step)
    out = []
    async for run in client.list_workflows(query, limit=limit):
        attrs = run.typed_search_attributes
        out.append(
            RunSummary(
                workflow_id=run.id,
                run_id=run.run_id,
                status=_status(run.status),
                journey_id=attrs.get(sa.JOURNEY_ID),
                member_id=attrs.get(sa.MEMBER_ID),
                step=attrs.get(sa.STEP),
                variant=attrs.get(sa.VARIANT),
                started_at=run.start_time,
                closed_at=run.close_time,
            )
        )
    return out


def _db_lines(url: str, workflow_id: str) -> tuple[list[RunLine], str | None]:
    with session_scope(url) as session:
        run = session.get(Enrollment, workflow_id)
        steps = session.exec(
            select(JourneyStep).where(JourneyStep.workflow_id == workflow_id)
        ).all()
        messages = session.exec(select(Message).where(Message.workflow_id == workflow_id)).all()
        lines = [RunLine(at=s.at, step=s.step_id, outcome="entered") for s in steps]
        lines += [
            RunLine(
                at=m.sent_at or m.created_at,
                step=m.step_id,
                outcome=m.status,
                detail=f"{m.channel} {m.template}" + (f": {m.reason}" if m.reason else ""),
            )
            for m in messages
        ]
        if run is not None and run.exited_at is not None:
            lines.append(RunLine(at=run.exited_at, step="exit", outcome=run.exit_reason or ""))
        lines.sort(key=lambda line: line.at)
        return lines, run.exit_reason if run else None


async def show_run(client: Client, settings: Settings, workflow_id: str) -> RunView:
    """The trail: from the `trail` query while running, from the result (history) once closed,
    and from the database when Temporal no longer has the run (retention) or it has no result."""
    handle = client.get_workflow_handle(workflow_id)
    status = "unknown"
    try:
        described = await handle.describe()
        status = _status(described.status)
    except Exception:
        described = None
    if described is not None and described.status == WorkflowExecutionStatus.RUNNING:
        trail = await query_trail(client, workflow_id)
        if trail is not None:
            lines = [RunLine(**t.model_dump()) for t in trail]
            return RunView(workflow_id=workflow_id, status=status, source="query", lines=lines)
    if described is not None and described.status in (
        WorkflowExecutionStatus.COMPLETED,
        WorkflowExecutionStatus.CONTINUED_AS_NEW,
    ):
        # Decoded by the client's data converter (and payload codec, when configured).
        result = await client.get_workflow_handle(workflow_id, result_type=JourneyResult).result()
        return RunView(
            workflow_id=workflow_id,
            status=status,
            source="result",
            exit_reason=result.exit_reason,
            lines=[RunLine(**t.model_dump()) for t in result.trail],
        )
    lines, reason = await asyncio.to_thread(_db_lines, settings.effective_database_url, workflow_id)
    if described is None and not lines and reason is None:
        raise SupportError(f"no run {workflow_id!r} in Temporal or in the database")
    return RunView(
        workflow_id=workflow_id, status=status, source="database", exit_reason=reason, lines=lines
    )


def _audit(url: str, action: SupportAction) -> None:
    with session_scope(url) as session:
        session.add(action)


def _member_of(url: str, workflow_id: str) -> str:
    with session_scope(url) as session:
        run = session.get(Enrollment, workflow_id)
        if run is None:
            raise SupportError(f"no journey run {workflow_id!r} in the database")
        return run.member_id


async def exit_run(
    client: Client, settings: Settings, workflow_id: str, reason: str, by: str
) -> str:
    """Ends a running journey through its `exit` update; the enrollment records
    "exited by {by}: {reason}" and `support_action` who did it."""
    url = settings.effective_database_url
    member_id = await asyncio.to_thread(_member_of, url, workflow_id)
    request = ExitRequest(reason=reason, by=by)
    handle = client.get_workflow_handle(workflow_id)
    recorded: str = await handle.execute_update("exit", request, result_type=str)
    await asyncio.to_thread(
        _audit,
        url,
        SupportAction(
            by=by, action="exit", member_id=member_id, workflow_id=workflow_id, detail=reason
        ),
    )
    return recorded


def ambiguous_sends(url: str, limit: int = 200) -> list[AmbiguousSend]:
    """Newest first: what support may want to check with the recipient or re-send."""
    with session_scope(url) as session:
        rows = session.exec(
            select(Message)
            .where(col(Message.interrupted_at).is_not(None))
            .order_by(col(Message.interrupted_at).desc())
            .limit(limit)
        )
        return [
            AmbiguousSend(
                message_id=row.message_id,
                member_id=row.member_id,
                journey_id=row.journey_id,
                step_id=row.step_id,
                channel=row.channel,
                status=row.status,
                handed_at=row.interrupted_at,
                reason=row.reason,
            )
            for row in rows
            if row.interrupted_at is not None
        ]
