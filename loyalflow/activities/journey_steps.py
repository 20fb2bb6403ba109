"""Activities behind the journey steps that read or change the member: conditions and waits read
member facts, splits record their assignment, updates change the member through events."""

import asyncio
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from temporalio import activity
from temporalio.client import Client

from loyalflow.catalog.event_types import event_types_from
from loyalflow.config import Settings
from loyalflow.members.ingest import store_events
from loyalflow.models.api import EventIn
from loyalflow.models.column_types import utcnow
from loyalflow.models.db import connection_scope, session_scope
from loyalflow.models.tables import ExperimentAssignment, Member
from loyalflow.models.workflow_io import (
    AssignmentRequest,
    MemberFacts,
    MemberFactsRequest,
    UpdateRequest,
)
from loyalflow.routing.member_facts import member_facts
from loyalflow.routing.router import route_events
from loyalflow.rules.loyalty import rules_from

ASSIGNMENT: Table = ExperimentAssignment.__table__  # type: ignore[attr-defined]


def record_assignment(url: str, request: AssignmentRequest) -> str:
    """The first assignment of a member to an experiment is kept (re-entries see the same group);
    it is replaced only if its variant no longer exists in the journey. Core statements: this
    runs once per journey entry with a split."""
    key = (ASSIGNMENT.c.experiment == request.experiment) & (
        ASSIGNMENT.c.member_id == request.member_id
    )
    for _ in range(2):  # a concurrent first assignment wins the insert; read it on the retry
        try:
            with connection_scope(url) as connection:
                recorded = connection.execute(
                    select(ASSIGNMENT.c.variant).where(key).with_for_update()
                ).scalar_one_or_none()
                if recorded is not None and recorded in request.variants:
                    return str(recorded)
                if recorded is None:
                    connection.execute(
                        ASSIGNMENT.insert().values(
                            experiment=request.experiment,
                            member_id=request.member_id,
                            variant=request.variant,
                            at=utcnow(),
                        )
                    )
                else:
                    connection.execute(
                        ASSIGNMENT.update().where(key).values(variant=request.variant)
                    )
                return request.variant
        except IntegrityError:
            continue
    raise RuntimeError("could not record the experiment assignment")


def update_events(url: str, request: UpdateRequest) -> list[EventIn]:
    source = {"source": f"journey:{request.journey_id}.{request.step_id}"}
    events: list[EventIn] = []
    if request.award_points:
        events.append(
            EventIn(
                event_id=f"{request.event_id}/points",
                member_id=request.member_id,
                type="points.adjusted",
                occurred_at=request.occurred_at,
                properties={"points": request.award_points, **source},
            )
        )
    attributes: dict[str, Any] = dict(request.set or {})
    if request.add_tag:
        with session_scope(url) as session:
            member = session.get(Member, request.member_id)
            tags = list(member.attributes.get("tags", [])) if member else []
        attributes["tags"] = sorted({*tags, request.add_tag})
    if attributes:
        events.append(
            EventIn(
                event_id=f"{request.event_id}/profile",
                member_id=request.member_id,
                type="profile.updated",
                occurred_at=request.occurred_at,
                properties={"attributes": attributes},
            )
        )
    return events


class JourneyStepActivities:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.url = settings.effective_database_url
        # Read once, at the edge: an `update` step's awards are ingested under these.
        self.rules = rules_from(settings.loyalty_rules_file)
        self.event_types = event_types_from(settings.events_file)

    @activity.defn(name="load_member_facts")
    async def load_member_facts(self, request: MemberFactsRequest) -> MemberFacts:
        return await asyncio.to_thread(member_facts, self.url, request)

    @activity.defn(name="record_assignment")
    async def record_assignment(self, request: AssignmentRequest) -> str:
        return await asyncio.to_thread(record_assignment, self.url, request)

    @activity.defn(name="apply_update")
    async def apply_update(self, request: UpdateRequest) -> None:
        events = await asyncio.to_thread(update_events, self.url, request)
        stored = await asyncio.to_thread(
            store_events, self.url, events, self.rules, self.event_types
        )
        # Stored first (idempotent ids), then routed: an award can lift the member a tier, and
        # the tier_upgrade journey must hear of it like of any other event.
        await route_events(self.client, self.settings, [s.event for s in stored if not s.duplicate])
