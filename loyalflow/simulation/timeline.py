"""A member's story in a simulation: the events they sent, and each journey run's trail (the
workflow's `trail` query) joined with the message ledger (channel, template, rendered subject)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from temporalio.client import Client
from temporalio.service import RPCError

from loyalflow.models.db import session_scope
from loyalflow.models.tables import Enrollment, Event, Message
from loyalflow.models.workflow_io import TrailEntry
from loyalflow.workflows.journey import JourneyWorkflow

# Trail outcomes that close one message (a fallback is a second message on the next channel).
FINAL = ("sent", "skipped", "failed")


@dataclass(frozen=True)
class TimelineRow:
    at: datetime
    journey: str  # the journey id, or "event" for what the member did
    step: str
    outcome: str
    detail: str = ""
    channel: str | None = None
    template: str | None = None
    subject: str | None = None


def _message_rows(url: str, member_id: str) -> dict[tuple[str, str], list[Message]]:
    with session_scope(url) as session:
        rows = session.exec(
            select(Message).where(Message.member_id == member_id).order_by(col(Message.created_at))
        )
        by_step: dict[tuple[str, str], list[Message]] = defaultdict(list)
        for row in rows:
            by_step[(row.workflow_id, row.step_id)].append(row)
        return by_step


def _enrollments(url: str, member_id: str) -> list[Enrollment]:
    with session_scope(url) as session:
        return list(
            session.exec(
                select(Enrollment)
                .where(Enrollment.member_id == member_id)
                .order_by(col(Enrollment.entered_at))
            )
        )


def _events(url: str, member_id: str, since: datetime) -> list[Event]:
    with session_scope(url) as session:
        return list(
            session.exec(
                select(Event)
                .where(Event.member_id == member_id, col(Event.occurred_at) >= since)
                .order_by(col(Event.occurred_at), col(Event.received_at))
            )
        )


def describe_event(event: Event) -> str:
    shown = {k: v for k, v in event.properties.items() if k != "last_activity_at"}
    return " ".join(f"{k}={v}" for k, v in shown.items())


async def trail_of(client: Client, workflow_id: str) -> list[TrailEntry]:
    """The latest run's trail (a continued run carries the recent trail over)."""
    try:
        return await client.get_workflow_handle(workflow_id).query(JourneyWorkflow.trail)
    except RPCError:
        return []


def _journey_rows(
    enrollment: Enrollment, trail: list[TrailEntry], messages: dict[tuple[str, str], list[Message]]
) -> list[TimelineRow]:
    rows: list[TimelineRow] = []
    taken: dict[str, int] = defaultdict(int)
    label = enrollment.journey_id + (f" #{enrollment.entry}" if enrollment.entry > 1 else "")
    for entry in trail:
        ledger = messages.get((enrollment.workflow_id, entry.step), [])
        message: Message | None = None
        if entry.outcome in FINAL or entry.outcome == "deferred":
            index = taken[entry.step]
            message = ledger[index] if index < len(ledger) else None
            if entry.outcome in FINAL:
                taken[entry.step] += 1
        detail = entry.detail or ""
        if message is not None and entry.outcome == "sent":
            detail = ""  # the subject and channel say it
        rows.append(
            TimelineRow(
                at=entry.at,
                journey=label,
                step=entry.step,
                outcome=entry.outcome,
                detail=detail,
                channel=message.channel if message else None,
                template=message.template if message else None,
                subject=message.subject if message and entry.outcome == "sent" else None,
            )
        )
    return rows


async def member_timeline(
    client: Client, url: str, member_id: str, since: datetime
) -> list[TimelineRow]:
    """Everything from `since` on, in time order (events first at the same instant)."""
    rows = [
        TimelineRow(
            at=event.occurred_at,
            journey="event",
            step=event.type,
            outcome="derived" if event.caused_by else "received",
            detail=describe_event(event),
        )
        for event in _events(url, member_id, since)
        if not event.type.startswith("segment.")
    ]
    messages = _message_rows(url, member_id)
    for enrollment in _enrollments(url, member_id):
        trail = await trail_of(client, enrollment.workflow_id)
        rows.extend(_journey_rows(enrollment, trail, messages))
    order = {"event": 0}
    return sorted(rows, key=lambda r: (r.at, order.get(r.journey, 1)))
