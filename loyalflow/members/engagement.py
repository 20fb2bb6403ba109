"""Opens and clicks recorded: the raw hit, its flags, the member's event and the ledger (issue 16).

One transaction per hit. The event of a human hit is stored unrouted and routed afterwards (the
API does it once the redirect is on its way; the re-router finishes what it could not). The
event of a machine hit is stored already `routed`: machines never move a journey.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from loyalflow.members.engagement_rules import (
    BURST_WINDOW,
    Hit,
    MessageFacts,
    Verdict,
    classify,
)
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event, Message
from loyalflow.models.tracking_tables import EngagementHit, MessageLink
from loyalflow.observability.metrics import count_ingested

EVENT_TYPE = {"open": "email.opened", "click": "email.clicked", "sms_click": "sms.clicked"}


@dataclass(frozen=True)
class Recorded:
    destination: str | None  # where a click goes; None for an open
    verdict: Verdict
    to_route: list[Event]


def _link_facts(session: Session, message_id: str, at: datetime) -> tuple[int, frozenset[int]]:
    count = session.exec(
        select(func.count()).select_from(MessageLink).where(MessageLink.message_id == message_id)
    ).one()
    recent = session.exec(
        select(EngagementHit.position)
        .where(
            EngagementHit.message_id == message_id,
            col(EngagementHit.kind).in_(("click", "sms_click")),
            EngagementHit.at >= at - BURST_WINDOW,
        )
        .distinct()
    )
    return int(count), frozenset(p for p in recent if p is not None)


def _event(row: Message, hit: EngagementHit, kind: str, verdict: Verdict, url: str | None) -> Event:
    properties: dict[str, Any] = {
        "message_id": row.message_id,
        "journey": row.journey_id,
        "step": row.step_id,
        "variant": row.variant,
        "human": verdict.human,
        "rule": verdict.rule,
    }
    if url is not None:
        properties["url"] = url
    return Event(
        event_id=f"engagement-{hit.id}-{kind}",
        member_id=row.member_id,
        type=EVENT_TYPE[kind],
        occurred_at=hit.at,
        properties=properties,
        routed=not verdict.human,
    )


def record_hit(
    url: str,
    kind: str,
    message_id: str,
    position: int | None,
    *,
    method: str,
    user_agent: str | None,
    ip_prefix: str | None,
    at: datetime,
    bot_seconds: float,
) -> Recorded | None:
    """None when the message (or the link) is unknown: nothing is stored."""
    with session_scope(url) as session:
        row = session.get(Message, message_id)
        if row is None:
            return None
        destination: str | None = None
        if position is not None:
            link = session.get(MessageLink, (message_id, position))
            if link is None:
                return None
            destination = link.url
        link_count, recent = _link_facts(session, message_id, at)
        facts = MessageFacts(row.sent_at, link_count, recent)
        hit_facts = Hit(kind, method, user_agent, ip_prefix, at)
        verdict = classify(hit_facts, facts, position, bot_seconds)
        hit = EngagementHit(
            message_id=message_id,
            member_id=row.member_id,
            kind=kind,
            position=position,
            at=at,
            method=method.upper()[:8],
            user_agent=(user_agent or "")[:500] or None,
            ip_prefix=ip_prefix,
            apple_mpp=verdict.apple_mpp,
            bot=verdict.bot,
            human=verdict.human,
            rule=verdict.rule,
        )
        session.add(hit)
        session.flush()  # the hit's id names its event
        events = [_event(row, hit, kind, verdict, destination)]
        if verdict.human and kind == "click" and row.first_opened_at is None:
            # A click counts as an open too (the pixel may have been blocked).
            events.insert(0, _event(row, hit, "open", verdict, None))
        if verdict.human:
            if kind in ("open", "click") and row.first_opened_at is None:
                row.first_opened_at = at
            if kind in ("click", "sms_click") and row.first_clicked_at is None:
                row.first_clicked_at = at
            session.add(row)
        for event in events:
            session.add(event)
        recorded = Recorded(destination, verdict, [e for e in events if not e.routed])
    count_ingested(e.type for e in events)  # committed, machine hits' events too
    return recorded


def delete_engagement(url: str, member_id: str) -> int:
    """A member's hits and engagement events, for erasure; returns the hits deleted."""
    with session_scope(url) as session:
        hits = session.execute(
            delete(EngagementHit).where(col(EngagementHit.member_id) == member_id)
        )
        session.execute(
            delete(Event).where(
                col(Event.member_id) == member_id, col(Event.event_id).like("engagement-%")
            )
        )
        return int(hits.rowcount or 0)  # type: ignore[attr-defined]
