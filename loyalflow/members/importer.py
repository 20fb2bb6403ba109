"""Bulk import of members from CSV (events from JSON Lines: event_import.py).

Rows go through the same validation and storage as the API (`MemberIn`, `EventIn`,
`store_events`). Files are streamed and committed in batches, so memory stays flat on any file
size. A bad row is rejected on its own, with its line number, and never half-applied; the good
rows around it are kept. Importing the same file twice changes nothing.
"""

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import col, select

from loyalflow.config import Settings
from loyalflow.members.import_files import (
    CsvRecord,
    ImportReport,
    ProgressCallback,
    RejectSink,
    RowRejected,
    UnusableInput,
    chunks,
    csv_records,
    describe_errors,
    is_utf8,
    open_rejects,
    open_source,
)
from loyalflow.members.state import apply_profile
from loyalflow.models.api import MEMBER_ID_PATTERN, MemberId, MemberIn
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Member

BATCH_SIZE = 500
MEMBER_COLUMNS = ("email", "phone", "first_name", "locale", "timezone")

MemberOutcome = Literal["created", "updated", "unchanged"]
_member_id_adapter: TypeAdapter[str] = TypeAdapter(MemberId)
T = TypeVar("T")


@dataclass
class MembersReport(ImportReport):
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def counts(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


class ImportAborted(Exception):
    """A database error stopped the import part-way; committed batches are kept."""

    def __init__(self, report: ImportReport, cause: SQLAlchemyError) -> None:
        super().__init__(f"import stopped by a database error: {cause}")
        self.report = report


# ---------------------------------------------------------------------------------------------
# Members


def _member_columns(records: Iterator[CsvRecord], path: Path) -> list[str]:
    header = next(records, None)
    if header is None:
        raise UnusableInput(f"{path} is empty: expected a header row with a member_id column")
    if header.error is not None or not is_utf8(header.text):
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
        raise RowRejected(describe_errors(exc)) from exc


def _member_rows(
    records: Iterator[CsvRecord], columns: list[str], sink: RejectSink, report: MembersReport
) -> Iterator[tuple[str, MemberIn]]:
    for record in records:
        report.rows += 1
        try:
            if record.error is not None:
                raise RowRejected(record.error)
            if not is_utf8(record.text):
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
        source = open_source(path, on_progress, stack)
        sink = open_rejects(report, rejects, path, stack)
        records = csv_records(source)
        columns = _member_columns(records, path)
        try:
            for batch in chunks(_member_rows(records, columns, sink, report), batch_size):
                _store_members(url, batch, report)
        except SQLAlchemyError as exc:
            raise ImportAborted(report, exc) from exc
    return report
