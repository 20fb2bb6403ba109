"""Anonymous visitors (a Segment `anonymousId`): their events are kept aside, never routed,
until a message carrying both ids says which member they are; then they become the member's
events, under the same ids, and trigger journeys like any other from then on."""

from collections.abc import Iterable

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from loyalflow.models.anonymous_tables import AnonymousAlias, AnonymousEvent
from loyalflow.models.api import EventIn
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event, Member


def ensure_members(url: str, member_ids: Iterable[str]) -> None:
    """A Segment `userId` is a member: a bare row for the ones not seen yet (their profile comes
    with identify). Concurrent requests creating the same member: the second pass sees it."""
    wanted = sorted(set(member_ids))
    if not wanted:
        return
    for attempt in (1, 2):
        try:
            with session_scope(url) as session:
                known = set(session.exec(select(Member.id).where(col(Member.id).in_(wanted))))
                session.add_all(
                    Member(id=member_id) for member_id in wanted if member_id not in known
                )
            return
        except IntegrityError:
            if attempt == 2:
                raise


def link(url: str, pairs: dict[str, str]) -> dict[str, str]:
    """Records anonymousId -> member for each pair (the first member named keeps it: a browser
    is one person's until its anonymousId changes). Returns every pair as stored."""
    if not pairs:
        return {}
    for attempt in (1, 2):
        try:
            with session_scope(url) as session:
                known = _aliases(session, pairs)
                for anonymous_id, member_id in pairs.items():
                    if anonymous_id not in known:
                        session.add(AnonymousAlias(anonymous_id=anonymous_id, member_id=member_id))
                        known[anonymous_id] = member_id
                return known
        except IntegrityError:
            if attempt == 2:
                raise
    return {}


def members_of(url: str, anonymous_ids: Iterable[str]) -> dict[str, str]:
    anonymous_ids = set(anonymous_ids)
    if not anonymous_ids:
        return {}
    with session_scope(url) as session:
        return _aliases(session, anonymous_ids)


def _aliases(session: Session, anonymous_ids: Iterable[str]) -> dict[str, str]:
    rows = session.exec(
        select(AnonymousAlias).where(col(AnonymousAlias.anonymous_id).in_(sorted(anonymous_ids)))
    )
    return {row.anonymous_id: row.member_id for row in rows}


def keep_anonymous(url: str, events: list[tuple[str, EventIn]]) -> int:
    """Stores (anonymousId, event) pairs; an id already kept or stored is a duplicate.
    Returns how many were new."""
    if not events:
        return 0
    ids = [event.event_id for _, event in events]
    with session_scope(url) as session:
        seen = set(
            session.exec(
                select(AnonymousEvent.event_id).where(col(AnonymousEvent.event_id).in_(ids))
            )
        ) | set(session.exec(select(Event.event_id).where(col(Event.event_id).in_(ids))))
        new = 0
        for anonymous_id, event in events:
            if event.event_id in seen:
                continue
            seen.add(event.event_id)
            session.add(
                AnonymousEvent(
                    event_id=event.event_id,
                    anonymous_id=anonymous_id,
                    type=event.type,
                    occurred_at=event.occurred_at,
                    properties=event.properties,
                )
            )
            new += 1
        return new


def pending(url: str, aliases: dict[str, str]) -> list[EventIn]:
    """The kept events of these visitors, as their members' events, oldest first."""
    if not aliases:
        return []
    with session_scope(url) as session:
        rows = session.exec(
            select(AnonymousEvent)
            .where(col(AnonymousEvent.anonymous_id).in_(sorted(aliases)))
            .order_by(col(AnonymousEvent.occurred_at), col(AnonymousEvent.event_id))
        )
        return [
            EventIn(
                event_id=row.event_id,
                member_id=aliases[row.anonymous_id],
                type=row.type,
                occurred_at=row.occurred_at,
                properties=row.properties,
            )
            for row in rows
        ]


def forget_attached(url: str, event_ids: list[str]) -> None:
    """Once stored as a member's events (same ids), the kept copies go."""
    if event_ids:
        with session_scope(url) as session:
            session.exec(delete(AnonymousEvent).where(col(AnonymousEvent.event_id).in_(event_ids)))
