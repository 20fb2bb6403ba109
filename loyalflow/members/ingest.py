"""Members and events into the database: validated as a whole, stored in one transaction."""

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from loyalflow.catalog.event_types import EventTypes
from loyalflow.members import referrals
from loyalflow.members.redemption import EventRefused
from loyalflow.members.state import apply_event, apply_profile
from loyalflow.models.api import EventIn, MemberIn
from loyalflow.models.column_types import utcnow
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event, Member
from loyalflow.observability.metrics import count_ingested
from loyalflow.rules.loyalty import LoyaltyRules


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
    derived: bool = False


def upsert_member(url: str, member_id: str, data: MemberIn) -> tuple[Member, bool]:
    """Creates or updates a member; only the fields present in `data` change."""
    with session_scope(url) as session:
        return _upsert(session, member_id, data)


def upsert_members(url: str, profiles: list[tuple[str, MemberIn]]) -> None:
    """`upsert_member` for many members in one transaction (a simulation's cast: one write
    turn instead of one per member)."""
    with session_scope(url) as session:
        for member_id, data in profiles:
            _upsert(session, member_id, data)


def _upsert(session: Session, member_id: str, data: MemberIn) -> tuple[Member, bool]:
    member = session.get(Member, member_id, with_for_update=True)
    created = member is None
    if member is None:
        member = Member(id=member_id)
    apply_profile(member, data)
    session.add(member)
    session.flush()
    return member, created


def store_events(
    url: str,
    events: list[EventIn],
    rules: LoyaltyRules,
    event_types: EventTypes,
    *,
    create_members: bool = False,
) -> list[StoredEvent]:
    """All or nothing: one bad event rejects the batch and nothing is written.

    Idempotent by `event_id`: an id already stored (or repeated in the batch) is a duplicate.
    Derived events (`purchase.first`, `tier.upgraded`...) are stored in the same transaction and
    returned after the event that caused them, ready to be routed like any other.
    `rules` and `event_types` are the caller's (settings are read at the edge: the API, the
    CLI, the worker): a custom type must be declared in `event_types`, and its properties match
    the declaration.
    `create_members`: an event for a member not seen yet creates it (the Segment API, where a
    `userId` is a member) rather than being refused.
    """
    problems = declaration_problems(events, event_types)
    if problems:
        raise EventsRejected(problems)
    try:
        stored = _store(url, rules, events, create_members)
    except IntegrityError:
        # A concurrent request stored one of these ids first; a second pass sees it as duplicate.
        stored = _store(url, rules, events, create_members)
    count_ingested(s.event.type for s in stored if not s.duplicate)  # committed: counted
    return stored


def declaration_problems(events: list[EventIn], event_types: EventTypes) -> list[FieldProblem]:
    """Custom events against their declarations: an undeclared type, a missing or mistyped
    property, each named."""
    return [
        FieldProblem(index, problem.field, problem.message)
        for index, event in enumerate(events)
        for problem in event_types.check(event.type, event.properties)
    ]


def _store(
    url: str, rules: LoyaltyRules, events: list[EventIn], create_members: bool
) -> list[StoredEvent]:
    with session_scope(url) as session:
        members = _lock_members(session, events, create_members)
        referrals.look_up(session, list(members.values()))
        ids = [e.event_id for e in events]
        seen = set(session.exec(select(Event.event_id).where(col(Event.event_id).in_(ids))))
        stored: list[StoredEvent] = []
        # Every column given: a default_factory costs SQLModel a signature inspection per row.
        # Each its own received_at: the re-router routes by it, in the batch's order.
        for index, incoming in enumerate(events):
            duplicate = incoming.event_id in seen
            seen.add(incoming.event_id)
            event = Event(
                event_id=incoming.event_id,
                member_id=incoming.member_id,
                type=incoming.type,
                occurred_at=incoming.occurred_at,
                received_at=utcnow(),
                properties=incoming.properties,
                caused_by=None,
                routed=False,
            )
            if duplicate:
                stored.append(StoredEvent(event, duplicate=True))
                continue
            member = members.get(incoming.member_id)
            if member is None:  # member.joined for a member not seen before
                member = members[incoming.member_id] = Member(id=incoming.member_id)
                session.add(member)
                session.flush()  # the event row's foreign key needs the member row first
            try:
                derived = apply_event(session, member, event, rules)
            except EventRefused as refused:  # the whole batch rolls back
                raise EventsRejected([FieldProblem(index, refused.field, str(refused))]) from None
            session.add(member)
            session.add(event)
            stored.append(StoredEvent(event, duplicate=False))
            for consequence in derived:
                other = f"/{consequence.member_id}" if consequence.member_id else ""
                child = Event(
                    # Derived from an idempotent event, so its id is derived too.
                    event_id=f"{event.event_id}/{consequence.type}{other}",
                    member_id=consequence.member_id or member.id,
                    type=consequence.type,
                    occurred_at=event.occurred_at,
                    received_at=utcnow(),
                    properties=consequence.properties,
                    caused_by=event.event_id,
                    routed=False,
                )
                session.add(child)
                stored.append(StoredEvent(child, duplicate=False, derived=True))
        return stored


def _lock_members(
    session: Session, events: list[EventIn], create_members: bool
) -> dict[str, Member]:
    """Locks the batch's members, in id order, in one query.

    Row locks on PostgreSQL: concurrent purchases for one member never lose an update. The
    consistent order matters: two batches locking the same members in different orders would
    deadlock.
    """
    ids = sorted({e.member_id for e in events})
    locked = session.exec(
        select(Member).where(col(Member.id).in_(ids)).order_by(col(Member.id)).with_for_update()
    )
    members = {member.id: member for member in locked}
    problems: list[FieldProblem] = []
    joining: set[str] = set()
    for index, incoming in enumerate(events):
        if incoming.type == "member.joined" or create_members:
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
