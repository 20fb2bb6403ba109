"""One page of a member's timeline, newest first, for the console.

Keyset pagination on time: a page holds the entries older than `before` (exclusive). Each source
(events, points, consents, runs entered, steps, goals, exits, messages, support actions) is read
with its own query, newest first, LIMITed to a page plus one and served by a (member_id, time)
index (migration 0025), so a member with 100,000 entries costs what one with 50 does. A page
ends between two instants, never inside one, so the next page neither repeats nor skips an entry;
more than a page of entries at one instant (only a bulk import makes that) is shown whole.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from loyalflow.config import Settings
from loyalflow.models.db import read_scope
from loyalflow.models.journey import Journey
from loyalflow.models.points_tables import PointsLedger
from loyalflow.models.tables import (
    Consent,
    Enrollment,
    Event,
    JourneyStep,
    Member,
    Message,
    SupportAction,
)
from loyalflow.models.timeline import TimelineEntry
from loyalflow.models.workflow_io import TrailEntry
from loyalflow.rules.loyalty import rules_from
from loyalflow.support.timeline import RANK
from loyalflow.support.timeline_entries import (
    consent_entry,
    entered_entry,
    event_entry,
    exit_entry,
    goal_entry,
    load_definition,
    message_entry,
    step_entries,
    support_entry,
    suppression_entries,
    trail_entries,
)
from loyalflow.support.timeline_points import points_entry

PAGE_SIZE = 50
# Timestamps are stored to the microsecond: "at or before t" is "before t + 1 µs".
TICK = timedelta(microseconds=1)
# Consent rows that no `consent.updated` event explains (imported ones) are told from the
# member's most recent consent events; a member has a handful.
CONSENT_EVENTS_READ = 1000
MESSAGE_TIME = func.coalesce(col(Message.sent_at), col(Message.created_at))


@dataclass(frozen=True)
class TimelinePage:
    member_id: str
    entries: list[TimelineEntry]  # newest first
    older: datetime | None  # `before` for the next (older) page; None: this is the oldest


@dataclass(frozen=True)
class _Window:
    """Rows older than `before` (newest first, at most `limit`), or exactly at `at`."""

    before: datetime | None
    at: datetime | None
    limit: int | None

    def apply(self, statement: SelectOfScalar[Any], time: Any) -> SelectOfScalar[Any]:
        column: ColumnElement[Any] = time
        if self.at is not None:
            return statement.where(column == self.at)
        if self.before is not None:
            statement = statement.where(column < self.before)
        return statement.order_by(column.desc()).limit(self.limit)

    def holds(self, at: datetime) -> bool:
        if self.at is not None:
            return at == self.at
        return self.before is None or at < self.before


def _sources(
    session: Session,
    settings: Settings,
    member: Member,
    window: _Window,
    trails: dict[str, list[TrailEntry]],
) -> list[TimelineEntry]:
    rules = rules_from(settings.loyalty_rules_file)

    def of_member(table: Any) -> SelectOfScalar[Any]:
        return select(table).where(table.member_id == member.id)

    events = session.exec(window.apply(of_member(Event), col(Event.occurred_at))).all()
    entries = [event_entry(e, rules) for e in events]
    points = session.exec(window.apply(of_member(PointsLedger), col(PointsLedger.at))).all()
    entries += [points_entry(row) for row in points]
    entries += _consents(session, member.id, window)
    entries += [e for e in suppression_entries(session, member) if window.holds(e.at)]
    entered = session.exec(window.apply(of_member(Enrollment), col(Enrollment.entered_at))).all()
    entries += [
        entered_entry(settings, run, session.get(Event, run.trigger_event_id or ""))
        for run in entered
    ]
    goals = session.exec(window.apply(of_member(Enrollment), col(Enrollment.converted_at))).all()
    entries += [e for run in goals if (e := goal_entry(settings, run)) is not None]
    exits = session.exec(window.apply(of_member(Enrollment), col(Enrollment.exited_at))).all()
    entries += [e for run in exits if (e := exit_entry(settings, run)) is not None]
    entries += _steps(session, settings, member.id, window)
    for workflow_id, trail in trails.items():
        run = session.get(Enrollment, workflow_id)
        if run is not None:
            shown = [e for e in trail if window.holds(e.at)]
            entries += trail_entries(settings, run, shown)
    messages = session.exec(
        window.apply(of_member(Message).where(col(Message.is_test).is_(False)), MESSAGE_TIME)
    ).all()
    # Placed by the time the page's keyset reads (the send, else the decision).
    entries += [
        message_entry(settings, m).model_copy(update={"at": m.sent_at or m.created_at})
        for m in messages
    ]
    support = session.exec(window.apply(of_member(SupportAction), col(SupportAction.at))).all()
    entries += [support_entry(settings, row) for row in support]
    return entries


def _consents(session: Session, member_id: str, window: _Window) -> list[TimelineEntry]:
    rows = session.exec(
        window.apply(select(Consent).where(Consent.member_id == member_id), col(Consent.at))
    ).all()
    if not rows:
        return []
    told = {
        (p.get("channel"), p.get("topic"), p.get("status"))
        for p in session.exec(
            select(Event.properties)
            .where(Event.member_id == member_id, Event.type == "consent.updated")
            .order_by(col(Event.occurred_at).desc())
            .limit(CONSENT_EVENTS_READ)
        )
    }
    return [consent_entry(r) for r in rows if (r.channel, r.topic, r.status) not in told]


def _steps(
    session: Session, settings: Settings, member_id: str, window: _Window
) -> list[TimelineEntry]:
    rows = session.exec(
        window.apply(
            select(JourneyStep).where(JourneyStep.member_id == member_id), col(JourneyStep.at)
        )
    ).all()
    runs: dict[str, Enrollment | None] = {}
    journeys: dict[tuple[str, str], Journey | None] = {}
    out: list[TimelineEntry] = []
    for row in rows:
        if row.workflow_id not in runs:
            runs[row.workflow_id] = session.get(Enrollment, row.workflow_id)
        run = runs[row.workflow_id]
        if run is None:
            continue
        key = (run.journey_id, run.journey_version)
        if key not in journeys:
            journeys[key] = load_definition(session, *key)
        out += step_entries(settings, run, journeys[key], row)
    return out


def _newest_first(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    return sorted(entries, key=lambda e: (e.at, RANK[e.kind]), reverse=True)


def timeline_page(
    settings: Settings,
    member_id: str,
    before: datetime | None = None,
    trails: dict[str, list[TrailEntry]] | None = None,
    size: int = PAGE_SIZE,
) -> TimelinePage | None:
    """The `size` newest entries older than `before` (None: no such member)."""
    if before is not None and before.tzinfo is None:
        before = before.replace(tzinfo=UTC)
    with read_scope(settings.effective_database_url) as session:
        member = session.get(Member, member_id)
        if member is None:
            return None
        fetched = _newest_first(
            _sources(session, settings, member, _Window(before, None, size + 1), trails or {})
        )
        if len(fetched) <= size:
            return TimelinePage(member_id, fetched, None)
        # Every entry newer than the first one left out was fetched: no source that stopped at
        # its limit can hold a newer one. Entries at that instant all go to the next page.
        boundary = fetched[size].at
        shown = [e for e in fetched if e.at > boundary]
        if shown:
            return TimelinePage(member_id, shown, boundary + TICK)
        instant = _Window(None, boundary, None)
        whole_instant = _sources(session, settings, member, instant, trails or {})
        return TimelinePage(member_id, _newest_first(whole_instant), boundary)
