"""The daily loyalty sweeps' activities (points expiry, tier requalification): one page of
members, stored, then routed to journeys."""

import asyncio
from functools import partial

from temporalio import activity
from temporalio.client import Client

from loyalflow.config import Settings
from loyalflow.members.points_sweep import expire_page
from loyalflow.members.requalification import requalify_page
from loyalflow.models.workflow_io import SweepPage, SweepPageRequest
from loyalflow.routing.router import route_events
from loyalflow.rules.loyalty import rules_from


class PointsExpiryActivities:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    @activity.defn(name="sweep_points_expiry_page")
    async def sweep_points_expiry_page(self, request: SweepPageRequest) -> SweepPage:
        rules = rules_from(self.settings.loyalty_rules_file)
        page = await asyncio.to_thread(
            partial(expire_page, expiry=rules.points_expiry, ladder=rules.tiers),
            self.settings.effective_database_url,
            request.as_of,
            request.buckets_days,
            request.after_member_id,
            request.limit,
        )
        # Stored first: if routing is interrupted here, the re-router finishes it.
        await route_events(self.client, self.settings, page.events)
        if page.dated_lots:
            activity.logger.info("dated %d lots that had no expiry date", page.dated_lots)
        if page.expired_lots:
            activity.logger.info(
                "expired %d points in %d lots", page.expired_points, page.expired_lots
            )
        return SweepPage(
            scanned=page.scanned, emitted=len(page.events), next_member_id=page.next_member_id
        )

    @activity.defn(name="sweep_requalification_page")
    async def sweep_requalification_page(self, request: SweepPageRequest) -> SweepPage:
        events, scanned, cursor = await asyncio.to_thread(
            requalify_page,
            self.settings.effective_database_url,
            rules_from(self.settings.loyalty_rules_file).tiers,
            request.as_of,
            request.after_member_id,
            request.limit,
        )
        await route_events(self.client, self.settings, events)
        return SweepPage(scanned=scanned, emitted=len(events), next_member_id=cursor)
