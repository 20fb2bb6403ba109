"""Segment sweeps: find members who crossed an inactivity bucket and emit `member.inactive`."""

import asyncio
from datetime import datetime, timedelta

from sqlmodel import col, select
from temporalio import activity
from temporalio.client import Client

from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event, Member
from loyalflow.models.workflow_io import SweepPage, SweepPageRequest
from loyalflow.routing import route_events


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
        # Stored first: if routing is interrupted here, the re-router finishes it.
        await route_events(self.client, self.settings, events)
        return SweepPage(scanned=scanned, emitted=len(events), next_member_id=cursor)
