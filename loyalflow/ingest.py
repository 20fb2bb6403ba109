"""Members and events into the database: validated as a whole, stored in one transaction."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from loyalflow.models.api import EventIn, MemberIn
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event, Member, utcnow


@dataclass(frozen=True)
class FieldProblem:
    index: int
    field: str
    message: str


class EventsRejected(ValueError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"[{p.index}].{p.field}: {p.message}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class StoredEvent:
    event: Event
    duplicate: bool


def upsert_member(url: str, member_id: str, data: MemberIn) -> tuple[Member, bool]:
    """Creates or updates a member; only the fields present in `data` change."""
    with session_scope(url) as session:
        member = session.get(Member, member_id, with_for_update=True)
        created = member is None
        if member is None:
            member = Member(id=member_id)
        for field in data.model_fields_set:
            value = getattr(data, field)
            if field == "attributes":
                value = {**member.attributes, **value}
            setattr(member, field, value)
        member.updated_at = utcnow()
        session.add(member)
        session.flush()
        return member, created


def get_member(url: str, member_id: str) -> Member | None:
    with session_scope(url) as session:
        return session.get(Member, member_id)


def store_events(url: str, events: list[EventIn]) -> list[StoredEvent]:
    """All or nothing: one bad event rejects the batch and nothing is written.

    Idempotent by `event_id`: an id already stored (or repeated in the batch) is a duplicate.
    """
    try:
        return _store(url, events)
    except IntegrityError:
        # A concurrent request stored one of these ids first; a second pass sees it as duplicate.
        return _store(url, events)


def _store(url: str, events: list[EventIn]) -> list[StoredEvent]:
    with session_scope(url) as session:
        members = _lock_members(session, events)
        seen: set[str] = set()
        stored: list[StoredEvent] = []
        for incoming in events:
            duplicate = (
                incoming.event_id in seen or session.get(Event, incoming.event_id) is not None
            )
            seen.add(incoming.event_id)
            event = Event(
                event_id=incoming.event_id,
                member_id=incoming.member_id,
                type=incoming.type,
                occurred_at=incoming.occurred_at,
                properties=incoming.properties,
            )
            if not duplicate:
                member = members.get(incoming.member_id)
                if member is None:  # member.joined for a member not seen before
                    member = members[incoming.member_id] = Member(id=incoming.member_id)
                    session.add(member)
                    session.flush()  # the event row's foreign key needs the member row first
                _apply(member, event)
                session.add(member)
                session.add(event)
            stored.append(StoredEvent(event, duplicate))
        return stored


def _lock_members(session: Session, events: list[EventIn]) -> dict[str, Member]:
    members: dict[str, Member] = {}
    problems: list[FieldProblem] = []
    joining: set[str] = set()
    for index, incoming in enumerate(events):
        if incoming.member_id not in members:
            # Row lock on PostgreSQL: concurrent purchases for one member never lose an update.
            member = session.get(Member, incoming.member_id, with_for_update=True)
            if member is not None:
                members[incoming.member_id] = member
        if incoming.type == "member.joined":
            joining.add(incoming.member_id)
        elif incoming.member_id not in members and incoming.member_id not in joining:
            problems.append(
                FieldProblem(
                    index,
                    "member_id",
                    f"unknown member {incoming.member_id!r}: create it with PUT /members/"
                    f"{incoming.member_id} or send its member.joined event first",
                )
            )
    if problems:
        raise EventsRejected(problems)
    return members


def _apply(member: Member, event: Event) -> None:
    """Member state follows from events; this is the only place events change it."""
    at: datetime = event.occurred_at
    member.last_activity_at = max(filter(None, (member.last_activity_at, at)))
    if event.type == "member.joined" and member.joined_at is None:
        member.joined_at = at
    elif event.type == "purchase":
        member.purchase_count += 1
        member.total_spent += float(event.properties.get("amount", 0))
        member.first_purchase_at = min(filter(None, (member.first_purchase_at, at)))
        member.last_purchase_at = max(filter(None, (member.last_purchase_at, at)))
    member.updated_at = utcnow()
