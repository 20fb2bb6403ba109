"""Segment sweeps: members who crossed an inactivity bucket get a `member.inactive` event;
members matching a journey's segment condition enter that journey."""

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import exists, or_
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar
from temporalio import activity
from temporalio.client import Client

from loyalflow.activities.segment_query import prefilter
from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.models.conditions import parse_condition
from loyalflow.models.db import session_scope
from loyalflow.models.event_types import SEGMENT_TRIGGER_TYPE
from loyalflow.models.journey import Journey
from loyalflow.models.tables import Enrollment, Event, Member
from loyalflow.models.workflow_io import MemberEvent, SweepPage, SweepPageRequest
from loyalflow.observability.metrics import count_ingested
from loyalflow.routing.member_facts import fact
from loyalflow.routing.pauses import paused_journey
from loyalflow.routing.router import route_events
from loyalflow.routing.start import start_journey


def inactive_event_id(member_id: str, bucket: int, last_activity: datetime) -> str:
    # One event per member, bucket and period of inactivity: a new activity starts a new period.
    return f"inactive/{bucket}d/{last_activity:%Y%m%dT%H%M%S}/{member_id}"


def emit_inactive(url: str, request: SweepPageRequest) -> tuple[list[Event], int, str | None]:
    """Stores the page's new `member.inactive` events; returns them, the count scanned, the cursor."""
    cutoff = request.as_of - timedelta(days=min(request.buckets_days))
    with session_scope(url) as session:
        query = select(Member.id, Member.last_activity_at).where(
            col(Member.last_activity_at) <= cutoff
        )
        if request.after_member_id is not None:
            query = query.where(col(Member.id) > request.after_member_id)
        rows = session.exec(query.order_by(col(Member.id)).limit(request.limit)).all()
        candidates: dict[str, Event] = {}
        for member_id, last_activity in rows:
            assert last_activity is not None
            idle_days = (request.as_of - last_activity).days
            bucket = max(b for b in request.buckets_days if b <= idle_days)
            event_id = inactive_event_id(member_id, bucket, last_activity)
            candidates[event_id] = Event(
                event_id=event_id,
                member_id=member_id,
                type="member.inactive",
                occurred_at=request.as_of,
                properties={"days": bucket, "last_activity_at": last_activity.isoformat()},
            )
        existing = set(
            session.exec(select(Event.event_id).where(col(Event.event_id).in_(candidates)))
        )
        new = [event for event_id, event in candidates.items() if event_id not in existing]
        session.add_all(new)
        cursor = rows[-1][0] if len(rows) == request.limit else None
        return new, len(rows), cursor


class SegmentActivities:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    @activity.defn(name="sweep_inactive_page")
    async def sweep_inactive_page(self, request: SweepPageRequest) -> SweepPage:
        events, scanned, cursor = await asyncio.to_thread(
            emit_inactive, self.settings.effective_database_url, request
        )
        count_ingested(e.type for e in events)
        # Stored first: if routing is interrupted here, the re-router finishes it.
        await route_events(self.client, self.settings, events)
        return SweepPage(scanned=scanned, emitted=len(events), next_member_id=cursor)


SEGMENT_CONCURRENCY = 16


def segment_trigger(journey_id: str, member_id: str, as_of: datetime) -> MemberEvent:
    # One trigger per member and sweep day: a repeated page (retry) starts nothing twice.
    return MemberEvent(
        event_id=f"segment/{journey_id}/{as_of:%Y%m%d}/{member_id}",
        type=SEGMENT_TRIGGER_TYPE,
        occurred_at=as_of,
    )


def segment_page(
    url: str, journey: Journey, request: SweepPageRequest
) -> tuple[list[str], int, str | None]:
    """The page's members who match the segment and may enter; the count scanned; the cursor."""
    assert journey.trigger.segment is not None
    condition = parse_condition(journey.trigger.segment, allow_event=False)
    with session_scope(url) as session:
        query = select(Member).where(prefilter(condition, request.as_of))
        # Always a key range, even on the first page (ids are never empty): without one,
        # SQLite walks the segment's own index and sorts the whole segment to find the
        # first 500 ids (3.9 s at 1,000,000 members, see bench/README.md).
        query = query.where(col(Member.id) > (request.after_member_id or ""))
        blocking = _blocking_enrollments(journey, request.as_of)
        if blocking is not None:
            query = query.where(~exists(blocking.where(col(Enrollment.member_id) == Member.id)))
        rows = session.exec(query.order_by(col(Member.id)).limit(request.limit)).all()
        matching = [
            m.id
            for m in rows
            if condition.evaluate(
                {f: fact(m, f) for f in condition.member_fields()}, None, request.as_of
            )
        ]
        cursor = rows[-1].id if len(rows) == request.limit else None
        return matching, len(rows), cursor


def _blocking_enrollments(journey: Journey, as_of: datetime) -> SelectOfScalar[str] | None:
    """Enrollments that keep a member out of the journey today, by its re-entry rule."""
    rule = journey.re_entry
    mine = select(Enrollment.workflow_id).where(Enrollment.journey_id == journey.id)
    if rule.policy == "never":
        return mine
    if rule.policy == "after_exit":
        running = col(Enrollment.exited_at).is_(None)
        if rule.cooldown is None:
            return mine.where(running)
        return mine.where(or_(running, col(Enrollment.exited_at) > as_of - rule.cooldown))
    return None  # `always`: the router applies the cool-down


class JourneySegmentActivities:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    @activity.defn(name="sweep_segment_page")
    async def sweep_segment_page(self, request: SweepPageRequest) -> SweepPage:
        assert request.journey_id is not None
        journey = get_catalog(self.settings).journeys.get(request.journey_id)
        if journey is None or journey.trigger.segment is None:
            activity.logger.warning("journey %s is no longer a segment journey", request.journey_id)
            return SweepPage(scanned=0, emitted=0, next_member_id=None)
        url = self.settings.effective_database_url
        if await asyncio.to_thread(paused_journey, url, journey.id):
            # Paused: no member enters, so the sweep stops here rather than scan the segment.
            activity.logger.info(
                "journey %s is paused: its segment sweep starts nobody", journey.id
            )
            return SweepPage(scanned=0, emitted=0, next_member_id=None)
        members, scanned, cursor = await asyncio.to_thread(
            segment_page, self.settings.effective_database_url, journey, request
        )
        limit = asyncio.Semaphore(SEGMENT_CONCURRENCY)

        async def start(member_id: str) -> str | None:
            async with limit:
                trigger = segment_trigger(journey.id, member_id, request.as_of)
                return await start_journey(self.client, self.settings, journey, member_id, trigger)

        started = await asyncio.gather(*(start(m) for m in members))
        return SweepPage(
            scanned=scanned, emitted=sum(1 for s in started if s), next_member_id=cursor
        )
