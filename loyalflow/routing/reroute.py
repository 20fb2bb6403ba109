"""The re-router: events whose routing was interrupted (a crash between commit and routing)."""

import asyncio
import logging
from datetime import timedelta

from sqlmodel import col, select
from temporalio.client import Client

from loyalflow.config import Settings
from loyalflow.models.column_types import utcnow
from loyalflow.models.db import read_scope
from loyalflow.models.tables import Event
from loyalflow.routing.router import route_events

log = logging.getLogger(__name__)
REROUTE_INTERVAL = timedelta(seconds=10)


def _unrouted(url: str, limit: int, grace: timedelta) -> list[Event]:
    cutoff = utcnow() - grace
    with read_scope(url) as session:
        rows = session.exec(
            select(Event)
            .where(col(Event.routed).is_(False), col(Event.received_at) < cutoff)
            .order_by(col(Event.received_at))
            .limit(limit)
        )
        return list(rows)


async def reroute_pending(client: Client, settings: Settings, limit: int = 500) -> int:
    grace = timedelta(seconds=settings.reroute_grace_seconds)
    events = await asyncio.to_thread(_unrouted, settings.effective_database_url, limit, grace)
    if events:
        log.info("re-routing %d event(s) whose routing was interrupted", len(events))
        await route_events(client, settings, events)
    return len(events)


async def reroute_forever(client: Client, settings: Settings) -> None:
    while True:
        try:
            await reroute_pending(client, settings)
        except Exception:
            log.exception("re-router pass failed; trying again shortly")
        await asyncio.sleep(REROUTE_INTERVAL.total_seconds())
