"""What a bounce or complaint does: ledger, suppression, consent, the member's events.

- permanent failure: the message becomes `bounced` (with `bounced_at`), the address is
  suppressed, and an `email.bounced` event is stored and routed;
- temporary failure: counted (a `bounce_report` row), nothing else;
- delivered (a success DSN): an `email.delivered` event;
- complaint: every email topic that is not transactional (consent rule other than `always`) is
  revoked with the source `complaint`, and an `email.complained` event is stored and routed.

Every report is kept in `bounce_report`; malformed ones with their raw text.
"""

import asyncio
import logging
from dataclasses import dataclass

from sqlmodel import select
from temporalio.client import Client

from loyalflow.bounces.reports import Report
from loyalflow.config import Settings
from loyalflow.members.consent import record_changes, suppress
from loyalflow.models.api import ConsentChange
from loyalflow.models.column_types import utcnow
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event, Member, Message, MessageStatus
from loyalflow.models.tracking_tables import BounceReport
from loyalflow.observability.metrics import count_ingested
from loyalflow.routing.router import route_events
from loyalflow.rules.messaging import policy_from

log = logging.getLogger(__name__)
COMPLAINT_SOURCE = "complaint"
EVENT_TYPE = {
    "permanent": "email.bounced",
    "delivered": "email.delivered",
    "complaint": "email.complained",
}


@dataclass(frozen=True)
class Applied:
    report_id: int
    member_id: str | None
    address: str | None
    event: Event | None


def _storable(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL, which a broken report may carry."""
    return None if value is None else value.replace("\x00", "\ufffd")


def _record(url: str, report: Report, message_id: str | None, raw: str | None) -> Applied:
    """One transaction: the report row, the ledger and the event."""
    with session_scope(url) as session:
        row = session.get(Message, message_id, with_for_update=True) if message_id else None
        if row is not None and row.channel != "email":
            row = None
        member = session.get(Member, row.member_id) if row is not None else None
        kept = BounceReport(
            kind=report.kind if row is not None or report.kind == "malformed" else "unrelated",
            message_id=row.message_id if row is not None else message_id,
            recipient=_storable(report.recipient),
            status=_storable(report.status),
            detail=_storable(report.detail),
            raw=raw if report.kind == "malformed" or row is None else None,
        )
        session.add(kept)
        session.flush()
        assert kept.id is not None
        event: Event | None = None
        if row is not None and report.kind in EVENT_TYPE:
            now = utcnow()
            if report.kind == "permanent":
                row.status = MessageStatus.BOUNCED
                row.bounced_at = row.bounced_at or now
                row.reason = f"bounced: {report.status or ''} {report.detail or ''}".strip()[:500]
                row.updated_at = now
                session.add(row)
            event_id = f"bounce-{row.message_id}-{report.kind}"
            if session.get(Event, event_id) is None:  # the same report twice: one event
                event = Event(
                    event_id=event_id,
                    member_id=row.member_id,
                    type=EVENT_TYPE[report.kind],
                    occurred_at=now,
                    properties={
                        "message_id": row.message_id,
                        "journey": row.journey_id,
                        "step": row.step_id,
                        "variant": row.variant,
                        "status": report.status,
                    },
                )
                session.add(event)
        address = report.recipient or (member.email if member else None)
        return Applied(kept.id, row.member_id if row else None, address, event)


def _non_transactional_email_topics(settings: Settings) -> list[str]:
    policy = policy_from(settings.messaging_policy_file)
    return sorted(topic for topic, rules in policy.topics.items() if rules.email != "always")


async def apply_report(
    temporal: Client, settings: Settings, report: Report, message_id: str | None, raw: str
) -> Applied:
    url = settings.effective_database_url
    message_id = message_id or report.original_message_id
    applied = await asyncio.to_thread(_record, url, report, message_id, raw)
    if applied.member_id is None:
        log.warning(
            "bounce report %s (%s) names no message of ours", applied.report_id, report.kind
        )
        return applied
    if report.kind == "permanent" and applied.address:
        reason = f"bounced ({report.status or 'permanent failure'})"
        await asyncio.to_thread(suppress, url, applied.address, "email", reason)
    if report.kind == "complaint":
        changes = [
            ConsentChange(channel="email", topic=topic, status="revoked", source=COMPLAINT_SOURCE)
            for topic in _non_transactional_email_topics(settings)
        ]
        await record_changes(
            temporal, settings, applied.member_id, changes, key=f"complaint|{message_id}"
        )
    if applied.event is not None:
        count_ingested([applied.event.type])
        await route_events(temporal, settings, [applied.event])
    return applied


def reports_for(url: str, message_id: str) -> list[BounceReport]:
    with session_scope(url) as session:
        return list(session.exec(select(BounceReport).where(BounceReport.message_id == message_id)))
