"""A Segment call or batch into the database: good messages are stored even when others in the
batch are refused (each refusal named), anonymous visitors' events are kept aside until they
are known, and a message id already stored changes nothing."""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from loyalflow.catalog.event_types import EventTypes
from loyalflow.members.aliases import (
    ensure_members,
    forget_attached,
    keep_anonymous,
    link,
    members_of,
    pending,
)
from loyalflow.members.ingest import EventsRejected, StoredEvent, store_events
from loyalflow.members.segment_spec import MappedMessage, NameRule, SegmentProblem, map_message
from loyalflow.models.api import EventIn
from loyalflow.rules.loyalty import LoyaltyRules

log = logging.getLogger(__name__)


@dataclass
class SegmentOutcome:
    stored: list[StoredEvent] = field(default_factory=list)
    accepted: int = 0
    duplicates: int = 0
    anonymous: int = 0  # kept until the visitor is identified
    attached: int = 0  # earlier anonymous events now the member's
    problems: list[SegmentProblem] = field(default_factory=list)

    @property
    def new_events(self) -> list[StoredEvent]:
        return [s for s in self.stored if not s.duplicate]


@dataclass(frozen=True)
class SegmentConfig:
    url: str
    rules: LoyaltyRules
    event_types: EventTypes
    name_rule: NameRule


def ingest_segment(
    config: SegmentConfig,
    messages: list[object],
    *,
    kind: str | None,
    received_at: datetime,
    batch_sent_at: object = None,
) -> SegmentOutcome:
    outcome = SegmentOutcome()
    mapped: list[MappedMessage] = []
    for index, raw in enumerate(messages):
        result = map_message(
            index,
            raw,
            kind=kind,
            received_at=received_at,
            batch_sent_at=batch_sent_at,
            rule=config.name_rule,
            event_types=config.event_types,
        )
        if isinstance(result, SegmentProblem):
            outcome.problems.append(result)
        else:
            mapped.append(result)
    # Both ids in one message: the visitor is this member, from now on and for what they did.
    pairs = {m.anonymous_id: m.user_id for m in mapped if m.anonymous_id and m.user_id}
    ensure_members(config.url, pairs.values())  # the aliases' foreign key
    newly_linked = link(config.url, pairs)
    visitors = {m.anonymous_id for m in mapped if m.user_id is None and m.anonymous_id}
    known = {**members_of(config.url, visitors - set(newly_linked)), **newly_linked}
    earlier = pending(config.url, newly_linked)
    for_members: list[tuple[int, EventIn]] = [(-1, event) for event in earlier]
    anonymous: list[tuple[str, EventIn]] = []
    for message in mapped:
        member_id = message.user_id or known.get(message.anonymous_id or "")
        if member_id is None:
            anonymous.append((message.anonymous_id or "", message.event))
        else:
            event = message.event.model_copy(update={"member_id": member_id})
            for_members.append((message.index, event))
    _store(config, for_members, outcome)
    outcome.anonymous = keep_anonymous(config.url, anonymous)
    attached = {s.event.event_id for s in outcome.stored} & {e.event_id for e in earlier}
    outcome.attached = len(attached)
    forget_attached(config.url, sorted(attached))
    for problem in outcome.problems:
        log.warning(
            "segment message refused: messageId=%s index=%d %s: %s",
            problem.message_id,
            problem.index,
            problem.field,
            problem.message,
        )
    return outcome


def _store(
    config: SegmentConfig, events: list[tuple[int, EventIn]], outcome: SegmentOutcome
) -> None:
    """Stores what it can: a refused event (a race the mapping could not see) is reported and
    the others stored again."""
    while events:
        try:
            stored = store_events(
                config.url,
                [event for _, event in events],
                config.rules,
                config.event_types,
                create_members=True,  # a userId is a member, created if new
            )
        except EventsRejected as rejected:
            refused = {p.index for p in rejected.problems}
            if not refused or max(refused) >= len(events):
                raise
            for problem in rejected.problems:
                index, event = events[problem.index]
                outcome.problems.append(
                    SegmentProblem(index, event.event_id, problem.field, problem.message)
                )
            events = [pair for n, pair in enumerate(events) if n not in refused]
            continue
        originals = {event.event_id for index, event in events if index >= 0}
        for item in stored:
            if item.derived or item.event.event_id not in originals:
                continue
            if item.duplicate:
                outcome.duplicates += 1
            else:
                outcome.accepted += 1
        outcome.stored = stored
        return
