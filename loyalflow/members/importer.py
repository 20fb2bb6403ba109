"""Bulk import: members from CSV, events from JSON Lines.

Rows go through the same validation and storage as the API (`MemberIn`, `EventIn`,
`store_events`). Files are streamed and committed in batches, so memory stays flat on any file
size. A bad row is rejected on its own, with its line number, and never half-applied; the good
rows around it are kept. Importing the same file twice changes nothing.
"""

import asyncio
import codecs
import csv
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, TextIO, TypeVar

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import col, select
from temporalio.client import Client
from temporalio.service import RPCError

from loyalflow.config import Settings
from loyalflow.members.ingest import EventsRejected, FieldProblem, StoredEvent, store_events
from loyalflow.members.state import apply_profile
from loyalflow.models.api import MEMBER_ID_PATTERN, EventIn, MemberId, MemberIn
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event, Member
from loyalflow.routing.router import route_events
from loyalflow.rules.loyalty import LoyaltyRules, LoyaltyRulesError, rules_from

BATCH_SIZE = 500
REPORTED_REJECTIONS = 50  # kept in the report; the --rejects file gets all of them
MEMBER_COLUMNS = ("email", "phone", "first_name", "locale", "timezone")
PROGRESS_EVERY_LINES = 256

ProgressCallback = Callable[[int, int], None]  # (bytes read, file size)
MemberOutcome = Literal["created", "updated", "unchanged"]
_member_id_adapter: TypeAdapter[str] = TypeAdapter(MemberId)
T = TypeVar("T")


class UnusableInput(Exception):
    """Nothing was imported: the file cannot be read as this kind of input (or the loyalty
    rules that events need cannot be loaded)."""


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str
    input: str  # the row as it appears in the file, to fix and re-import it


@dataclass
class ImportReport:
    rows: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)  # the first REPORTED_REJECTIONS

    def counts(self) -> dict[str, int]:
        """What happened to the rows that were not rejected, by outcome."""
        return {}


@dataclass
class MembersReport(ImportReport):
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def counts(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


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


class ImportAborted(Exception):
    """A database error stopped the import part-way; committed batches are kept."""

    def __init__(self, report: ImportReport, cause: SQLAlchemyError) -> None:
        super().__init__(f"import stopped by a database error: {cause}")
        self.report = report


class RowRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# Reading: a binary stream of lines, so that bytes can be counted for the progress bar


class _Source:
    """The input file, read line by line as bytes; counts lines and bytes as it goes."""

    def __init__(self, file: BinaryIO, on_progress: ProgressCallback | None) -> None:
        self._file = file
        self._on_progress = on_progress
        self.size = os.fstat(file.fileno()).st_size
        self.line_no = 0
        self.bytes_read = 0

    def __iter__(self) -> Iterator[bytes]:
        for raw in self._file:
            self.line_no += 1
            self.bytes_read += len(raw)
            if self.line_no % PROGRESS_EVERY_LINES == 0:
                self.progress()
            # Spreadsheets save "CSV UTF-8" with a byte order mark; it is not part of the header.
            yield raw.removeprefix(codecs.BOM_UTF8) if self.line_no == 1 else raw
        self.progress()

    def progress(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self.bytes_read, self.size)


def _open_source(path: Path, on_progress: ProgressCallback | None, stack: ExitStack) -> _Source:
    try:
        file = stack.enter_context(path.open("rb"))
    except OSError as exc:
        raise UnusableInput(f"cannot read {path}: {exc.strerror or exc}") from exc
    return _Source(file, on_progress)


def _decode(raw: bytes) -> str:
    # surrogateescape keeps undecodable bytes (checked per row) and writes them back unchanged.
    return raw.decode("utf-8", "surrogateescape")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Rejections: counted, the first ones kept for the report, all of them written to --rejects


class _RejectSink:
    def __init__(self, report: ImportReport, file: TextIO | None) -> None:
        self._report = report
        self._writer = None if file is None else csv.writer(file)
        if self._writer is not None:
            self._writer.writerow(["line", "reason", "input"])

    def add(self, line: int, reason: str, text: str) -> None:
        self._report.rejected += 1
        rejection = Rejection(line, reason, text)
        if len(self._report.rejections) < REPORTED_REJECTIONS:
            self._report.rejections.append(rejection)
        if self._writer is not None:
            self._writer.writerow([line, reason, text])


def _open_rejects(
    report: ImportReport, rejects: Path | None, source: Path, stack: ExitStack
) -> _RejectSink:
    if rejects is None:
        return _RejectSink(report, None)
    if rejects.resolve() == source.resolve():
        raise UnusableInput(f"--rejects {rejects} would overwrite the file being imported")
    try:
        # surrogateescape: a row rejected for bad UTF-8 is written back byte for byte.
        file = stack.enter_context(
            rejects.open("w", encoding="utf-8", errors="surrogateescape", newline="")
        )
    except OSError as exc:
        raise UnusableInput(f"cannot write {rejects}: {exc.strerror or exc}") from exc
    return _RejectSink(report, file)


def _describe(exc: ValidationError) -> str:
    """One line per problem, naming the field, e.g. `email: value is not a valid email address`."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def _chunks(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ---------------------------------------------------------------------------------------------
# Members


@dataclass(frozen=True)
class _CsvRecord:
    line: int  # where the record starts (a quoted cell may span several lines)
    cells: list[str]
    text: str
    error: str | None = None


def _csv_records(source: _Source) -> Iterator[_CsvRecord]:
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for raw in source:
            text = _decode(raw)
            consumed.append(text)
            yield text

    reader = csv.reader(lines())
    while True:
        line = source.line_no + 1
        try:
            cells, error = next(reader), None
        except StopIteration:
            return
        except csv.Error as exc:
            cells, error = [], f"not valid CSV: {exc}"
        text = "".join(consumed).rstrip("\r\n")
        consumed.clear()
        if error is not None and not text:
            return  # an error that consumed nothing would repeat forever
        if cells or error is not None:  # blank lines are not rows
            yield _CsvRecord(line, cells, text, error)


def _member_columns(records: Iterator[_CsvRecord], path: Path) -> list[str]:
    header = next(records, None)
    if header is None:
        raise UnusableInput(f"{path} is empty: expected a header row with a member_id column")
    if header.error is not None or not _is_utf8(header.text):
        raise UnusableInput(f"{path}: the header row is not UTF-8 CSV")
    columns = [name.strip() for name in header.cells]
    if "member_id" not in columns:
        raise UnusableInput(
            f"{path}: the header row has no member_id column (found: {', '.join(columns)})"
        )
    if "" in columns:
        raise UnusableInput(f"{path}: column {columns.index('') + 1} of the header has no name")
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise UnusableInput(f"{path}: the header repeats {', '.join(repeated)}")
    return columns


def _check_member_id(member_id: str) -> str:
    if not member_id:
        raise RowRejected("member_id: is empty")
    try:
        return _member_id_adapter.validate_python(member_id)
    except ValidationError as exc:
        raise RowRejected(
            f"member_id: {member_id!r} is not a member id (pattern {MEMBER_ID_PATTERN})"
        ) from exc


def parse_member_row(columns: list[str], cells: list[str]) -> tuple[str, MemberIn]:
    """One CSV row as PUT /members/{id} would get it: empty cells are fields left out."""
    if len(cells) != len(columns):
        raise RowRejected(f"expected {len(columns)} fields as in the header, found {len(cells)}")
    values = dict(zip(columns, cells, strict=True))
    member_id = _check_member_id(values.pop("member_id"))
    fields: dict[str, Any] = {
        name: value for name, value in values.items() if name in MEMBER_COLUMNS and value
    }
    attributes = {
        name: value for name, value in values.items() if name not in MEMBER_COLUMNS and value
    }
    if attributes:
        fields["attributes"] = attributes
    try:
        return member_id, MemberIn.model_validate(fields)
    except ValidationError as exc:
        raise RowRejected(_describe(exc)) from exc


def _member_rows(
    records: Iterator[_CsvRecord], columns: list[str], sink: _RejectSink, report: MembersReport
) -> Iterator[tuple[str, MemberIn]]:
    for record in records:
        report.rows += 1
        try:
            if record.error is not None:
                raise RowRejected(record.error)
            if not _is_utf8(record.text):
                raise RowRejected("not valid UTF-8")
            member_id, data = parse_member_row(columns, record.cells)
        except RowRejected as exc:
            sink.add(record.line, exc.reason, record.text)
            continue
        yield member_id, data


def _changes(member: Member, data: MemberIn) -> bool:
    """Whether `apply_profile` would change anything but `updated_at`, found on a scratch copy so
    that the merge rules stay in one place."""
    probe = Member(**member.model_dump())
    apply_profile(probe, data)
    return probe.model_dump(exclude={"updated_at"}) != member.model_dump(exclude={"updated_at"})


def upsert_members(url: str, rows: list[tuple[str, MemberIn]]) -> list[MemberOutcome]:
    """`upsert_member` for many members in one transaction, one outcome per row.

    Unlike `upsert_member`, a row that would change nothing leaves the member untouched,
    `updated_at` included: importing a file again is a no-op.
    """
    with session_scope(url) as session:
        ids = sorted({member_id for member_id, _ in rows})
        # Row locks in id order: two imports of overlapping files cannot deadlock each other.
        query = (
            select(Member).where(col(Member.id).in_(ids)).order_by(col(Member.id)).with_for_update()
        )
        members = {member.id: member for member in session.exec(query)}
        outcomes: list[MemberOutcome] = []
        for member_id, data in rows:
            member = members.get(member_id)
            if member is None:
                member = members[member_id] = Member(id=member_id)
                outcomes.append("created")
            elif _changes(member, data):
                outcomes.append("updated")
            else:
                outcomes.append("unchanged")
                continue
            apply_profile(member, data)
            session.add(member)
        return outcomes


def _store_members(url: str, rows: list[tuple[str, MemberIn]], report: MembersReport) -> None:
    try:
        outcomes = upsert_members(url, rows)
    except IntegrityError:
        # The API created one of these members first (row locks cannot cover rows that do not
        # exist yet); a second pass finds it and updates it.
        outcomes = upsert_members(url, rows)
    report.created += outcomes.count("created")
    report.updated += outcomes.count("updated")
    report.unchanged += outcomes.count("unchanged")


def import_members(
    settings: Settings,
    path: Path,
    *,
    rejects: Path | None = None,
    on_progress: ProgressCallback | None = None,
    batch_size: int = BATCH_SIZE,
) -> MembersReport:
    """Creates or updates the members of a CSV file; raises UnusableInput before any write."""
    report = MembersReport()
    url = settings.effective_database_url
    with ExitStack() as stack:
        source = _open_source(path, on_progress, stack)
        sink = _open_rejects(report, rejects, path, stack)
        records = _csv_records(source)
        columns = _member_columns(records, path)
        try:
            for batch in _chunks(_member_rows(records, columns, sink, report), batch_size):
                _store_members(url, batch, report)
        except SQLAlchemyError as exc:
            raise ImportAborted(report, exc) from exc
    return report


# ---------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True)
class _EventRow:
    line: int
    text: str
    event: EventIn


def _event_rows(source: _Source, sink: _RejectSink, report: EventsReport) -> Iterator[_EventRow]:
    for raw in source:
        if not raw.strip():
            continue
        report.rows += 1
        text = _decode(raw).rstrip("\r\n")
        try:
            event = EventIn.model_validate_json(raw)
        except ValidationError as exc:
            if report.rows == 1 and exc.errors()[0]["type"] == "json_invalid":
                # Most likely the wrong file (a CSV export, say): refuse it before writing.
                raise UnusableInput(
                    f"line {source.line_no} is not JSON ({_describe(exc)}); expected JSON Lines:"
                    " one event object per line"
                ) from exc
            sink.add(source.line_no, _describe(exc), text)
            continue
        yield _EventRow(source.line_no, text, event)


def _refused(
    rows: list[_EventRow], problems: list[FieldProblem], sink: _RejectSink
) -> list[_EventRow]:
    """Rejects the rows `store_events` refused; returns the others, to be stored again."""
    reasons: dict[int, list[str]] = {}
    for problem in problems:
        reasons.setdefault(problem.index, []).append(f"{problem.field}: {problem.message}")
    for index, messages in sorted(reasons.items()):
        sink.add(rows[index].line, "; ".join(messages), rows[index].text)
    return [row for index, row in enumerate(rows) if index not in reasons]


def _store_event_rows(
    url: str, rules: LoyaltyRules, batch: list[_EventRow], sink: _RejectSink
) -> list[StoredEvent]:
    """Stores what it can: a batch is all or nothing, so refused rows are dropped and the rest
    stored again."""
    rows = batch
    while rows:
        try:
            return store_events(url, [row.event for row in rows], rules)
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
    except LoyaltyRulesError as exc:
        raise UnusableInput(str(exc)) from exc
    router = _Router(settings, report, enabled=route, connect=connect)
    with ExitStack() as stack:
        source = _open_source(path, on_progress, stack)
        sink = _open_rejects(report, rejects, path, stack)
        try:
            for batch in _chunks(_event_rows(source, sink, report), batch_size):
                stored = await asyncio.to_thread(_store_event_rows, url, rules, batch, sink)
                _count(report, stored)
                # Derived events are routed too: journeys may be triggered by purchase.first.
                await router.route([item.event for item in stored if not item.duplicate])
        except SQLAlchemyError as exc:
            raise ImportAborted(report, exc) from exc
    return report
