"""Bulk import of events from JSON Lines: validated and stored like POST /events, in batches,
then routed to journeys (or, with --no-route, marked routed without starting anything).
"""

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import func, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select
from temporalio.client import Client
from temporalio.service import RPCError

from loyalflow.catalog.event_types import EventTypes, EventTypesError, event_types_from
from loyalflow.config import Settings
from loyalflow.members.import_files import (
    ImportReport,
    ProgressCallback,
    RejectSink,
    Source,
    UnusableInput,
    chunks,
    decode,
    describe_errors,
    open_rejects,
    open_source,
)
from loyalflow.members.importer import BATCH_SIZE, ImportAborted
from loyalflow.members.ingest import EventsRejected, FieldProblem, StoredEvent, store_events
from loyalflow.models.api import EventIn
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event
from loyalflow.routing.router import route_events
from loyalflow.rules.loyalty import LoyaltyRules, LoyaltyRulesError, rules_from


@dataclass
class EventsReport(ImportReport):
    accepted: int = 0
    duplicates: int = 0
    derived: int = 0  # events loyalflow derived from accepted ones (purchase.first, tier.*)
    routed: int = 0  # accepted and routed to journeys by this import
    unrouted: int = 0  # accepted but left `routed=False`: the workers' re-router will route them
    not_routed: int = 0  # accepted with --no-route: marked routed, no journey started
    routing_problem: str | None = None

    def counts(self) -> dict[str, int]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "derived": self.derived}


@dataclass(frozen=True)
class _EventRow:
    line: int
    text: str
    event: EventIn


def _event_rows(source: Source, sink: RejectSink, report: EventsReport) -> Iterator[_EventRow]:
    for raw in source:
        if not raw.strip():
            continue
        report.rows += 1
        text = decode(raw).rstrip("\r\n")
        try:
            event = EventIn.model_validate_json(raw)
        except ValidationError as exc:
            if report.rows == 1 and exc.errors()[0]["type"] == "json_invalid":
                # Most likely the wrong file (a CSV export, say): refuse it before writing.
                raise UnusableInput(
                    f"line {source.line_no} is not JSON ({describe_errors(exc)}); expected JSON Lines:"
                    " one event object per line"
                ) from exc
            sink.add(source.line_no, describe_errors(exc), text)
            continue
        yield _EventRow(source.line_no, text, event)


def _refused(
    rows: list[_EventRow], problems: list[FieldProblem], sink: RejectSink
) -> list[_EventRow]:
    """Rejects the rows `store_events` refused; returns the others, to be stored again."""
    reasons: dict[int, list[str]] = {}
    for problem in problems:
        reasons.setdefault(problem.index, []).append(f"{problem.field}: {problem.message}")
    for index, messages in sorted(reasons.items()):
        sink.add(rows[index].line, "; ".join(messages), rows[index].text)
    return [row for index, row in enumerate(rows) if index not in reasons]


def _store_event_rows(
    url: str,
    rules: LoyaltyRules,
    event_types: EventTypes,
    batch: list[_EventRow],
    sink: RejectSink,
) -> list[StoredEvent]:
    """Stores what it can: a batch is all or nothing, so refused rows are dropped and the rest
    stored again."""
    rows = batch
    while rows:
        try:
            return store_events(url, [row.event for row in rows], rules, event_types)
        except EventsRejected as exc:
            remaining = _refused(rows, exc.problems, sink)
            if len(remaining) == len(rows):
                raise  # problems that name no row: retrying would loop forever
            rows = remaining
    return []


def _mark_routed_without_routing(url: str, event_ids: list[str]) -> None:
    with session_scope(url) as session:
        session.execute(update(Event).where(col(Event.event_id).in_(event_ids)).values(routed=True))


def _count_unrouted(url: str, event_ids: list[str]) -> int:
    with session_scope(url) as session:
        query = select(func.count()).where(
            col(Event.event_id).in_(event_ids), col(Event.routed).is_(False)
        )
        return session.exec(query).one()


class _Router:
    """Routes each stored batch like the API does, connecting to Temporal on first need."""

    def __init__(
        self,
        settings: Settings,
        report: EventsReport,
        *,
        enabled: bool,
        connect: Callable[[], Awaitable[Client]] | None,
    ) -> None:
        self._settings = settings
        self._connect_to_temporal = connect
        self._report = report
        self._enabled = enabled
        self._client: Client | None = None

    async def route(self, events: list[Event]) -> None:
        if not events:
            return
        if self._enabled:
            await self._route(events)
        else:
            await self._mark_without_routing(events)

    async def _mark_without_routing(self, events: list[Event]) -> None:
        # Left `routed=False`, the workers' re-router would route them within seconds and start
        # the journeys that --no-route is there to avoid. The re-router only takes events older
        # than its grace period, far longer than this gap after the commit.
        ids = [event.event_id for event in events]
        url = self._settings.effective_database_url
        await asyncio.to_thread(_mark_routed_without_routing, url, ids)
        self._report.not_routed += len(events)

    async def _route(self, events: list[Event]) -> None:
        client = await self._connect()
        if client is None:
            self._report.unrouted += len(events)
            return
        if await route_events(client, self._settings, events):
            self._report.routed += len(events)
            return
        # Some events are left for the re-router; count them from their rows.
        url = self._settings.effective_database_url
        left = await asyncio.to_thread(_count_unrouted, url, [event.event_id for event in events])
        self._report.routed += len(events) - left
        self._report.unrouted += left
        self._report.routing_problem = "routing was interrupted (the errors are logged above)"

    async def _connect(self) -> Client | None:
        if self._client is None and self._report.routing_problem is None:
            if self._connect_to_temporal is None:
                self._report.routing_problem = "no connection to Temporal was given"
                return None
            try:
                self._client = await self._connect_to_temporal()
            except (RuntimeError, RPCError, OSError) as exc:
                address = self._settings.effective_temporal_address
                self._report.routing_problem = f"Temporal is unreachable at {address} ({exc})"
        # After a failure, later batches are stored without routing: the re-router will route
        # them, rather than this import logging the same error for every event.
        return self._client if self._report.routing_problem is None else None


def _count(report: EventsReport, stored: list[StoredEvent]) -> None:
    for item in stored:
        if item.derived:
            report.derived += 1
        elif item.duplicate:
            report.duplicates += 1
        else:
            report.accepted += 1


async def import_events(
    settings: Settings,
    path: Path,
    *,
    route: bool = True,
    connect: Callable[[], Awaitable[Client]] | None = None,
    rejects: Path | None = None,
    on_progress: ProgressCallback | None = None,
    batch_size: int = BATCH_SIZE,
) -> EventsReport:
    """Stores the events of a JSON Lines file and routes them to journeys through the Temporal
    client that `connect` gives on first need (the caller knows how to reach Temporal).

    Raises UnusableInput before any write. If Temporal is unreachable, the events stay stored
    and unrouted (`report.routing_problem` says why), and the workers' re-router routes them.
    """
    report = EventsReport()
    url = settings.effective_database_url
    try:
        rules = rules_from(settings.loyalty_rules_file)
        event_types = event_types_from(settings.events_file)
    except (LoyaltyRulesError, EventTypesError) as exc:
        raise UnusableInput(str(exc)) from exc
    router = _Router(settings, report, enabled=route, connect=connect)
    with ExitStack() as stack:
        source = open_source(path, on_progress, stack)
        sink = open_rejects(report, rejects, path, stack)
        try:
            for batch in chunks(_event_rows(source, sink, report), batch_size):
                stored = await asyncio.to_thread(
                    _store_event_rows, url, rules, event_types, batch, sink
                )
                _count(report, stored)
                # Derived events are routed too: journeys may be triggered by purchase.first.
                await router.route([item.event for item in stored if not item.duplicate])
        except SQLAlchemyError as exc:
            raise ImportAborted(report, exc) from exc
    return report
