"""Starting a journey entry: the re-entry rule, the enrollment row, then the workflow.

The enrollment is recorded before the start so that signals find it; the workflow id makes the
start idempotent, so a repeated routing never starts a second run of the same entry.
"""

import asyncio
import contextlib

from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from loyalflow.config import Settings
from loyalflow.models.column_types import utcnow
from loyalflow.models.console_tables import JourneyPause
from loyalflow.models.db import connection_scope
from loyalflow.models.journey import Journey
from loyalflow.models.tables import Enrollment, Event
from loyalflow.models.workflow_io import JourneyInput, MemberEvent
from loyalflow.workflows import search_attributes as sa
from loyalflow.workflows.journey import JourneyWorkflow

ENROLLMENT: Table = Enrollment.__table__  # type: ignore[attr-defined]
PAUSE: Table = JourneyPause.__table__  # type: ignore[attr-defined]
# Contact details a profile event may carry: never copied into Temporal (inputs, signals).
CONTACT_FIELDS = frozenset({"email", "phone", "first_name"})


def signal_payload(event: Event) -> MemberEvent:
    """The event as journeys see it (trigger and signals), without contact details."""
    return MemberEvent(
        event_id=event.event_id,
        type=event.type,
        occurred_at=event.occurred_at,
        properties={k: v for k, v in event.properties.items() if k not in CONTACT_FIELDS},
    )


def _entry_to_start(url: str, journey: Journey, member_id: str, trigger: MemberEvent) -> int | None:
    """Records the enrollment before the start, so signals find it. Returns the entry number to
    start, or None when the re-entry rule says no. Idempotent: the same trigger event gives the
    same entry (whose start is then a no-op by workflow id). Core statements: this runs for
    every event that triggers a journey."""
    policy = journey.re_entry
    with connection_scope(url) as connection:
        entries = connection.execute(
            select(
                ENROLLMENT.c.entry,
                ENROLLMENT.c.trigger_event_id,
                ENROLLMENT.c.entered_at,
                ENROLLMENT.c.exited_at,
            )
            .where(ENROLLMENT.c.journey_id == journey.id, ENROLLMENT.c.member_id == member_id)
            .order_by(ENROLLMENT.c.entry)
        ).all()
        for existing in entries:
            if existing.trigger_event_id == trigger.event_id:
                # Routed before (the re-router repeats interrupted routings): start it again
                # only if it may not have started; a finished entry is not restarted.
                return int(existing.entry) if existing.exited_at is None else None
        paused = connection.execute(
            select(PAUSE.c.journey_id).where(PAUSE.c.journey_id == journey.id)
        ).first()
        if paused is not None:
            # Entries paused from the console or the CLI: this trigger starts nothing. (An
            # entry recorded before the pause, above, still starts: it was in flight.)
            return None
        if entries:
            last = entries[-1]
            if policy.policy == "never":
                return None
            if policy.policy == "after_exit":
                if last.exited_at is None:
                    return None
                if policy.cooldown and trigger.occurred_at < last.exited_at + policy.cooldown:
                    return None
            if (
                policy.policy == "always"
                and policy.cooldown
                and trigger.occurred_at < last.entered_at + policy.cooldown
            ):
                return None
        entry = int(entries[-1].entry) + 1 if entries else 1
        connection.execute(
            ENROLLMENT.insert().values(
                workflow_id=journey.workflow_id(member_id, entry),
                journey_id=journey.id,
                journey_version=journey.version,
                member_id=member_id,
                entry=entry,
                trigger_event_id=trigger.event_id,
                entered_at=utcnow(),
            )
        )
        return entry


def _try_entry(url: str, journey: Journey, member_id: str, trigger: MemberEvent) -> int | None:
    try:
        return _entry_to_start(url, journey, member_id, trigger)
    except IntegrityError:
        # Another router took this entry number at the same moment, for another event.
        return _entry_to_start(url, journey, member_id, trigger)


async def start_journey(
    client: Client, settings: Settings, journey: Journey, member_id: str, trigger: MemberEvent
) -> str | None:
    """Starts an entry of `journey` for the member if its re-entry rule allows; its workflow id."""
    url = settings.effective_database_url
    entry = await asyncio.to_thread(_try_entry, url, journey, member_id, trigger)
    if entry is None:
        return None
    workflow_id = journey.workflow_id(member_id, entry)
    # A closed run with this id means this entry already happened.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            JourneyWorkflow.run,
            JourneyInput(
                journey=journey,
                member_id=member_id,
                entry=entry,
                trigger=trigger,
                version=journey.version,
            ),
            id=workflow_id,
            task_queue=settings.temporal_task_queue,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.MEMBER_ID, member_id),
                    SearchAttributePair(sa.JOURNEY_ID, journey.id),
                    SearchAttributePair(sa.JOURNEY_VERSION, journey.version),
                ]
            ),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    return workflow_id
