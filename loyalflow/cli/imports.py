"""`loyalflow import members|events`: bulk import with a progress bar and a report."""

import asyncio
import dataclasses
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from loyalflow.config import Settings, get_settings
from loyalflow.members.event_import import EventsReport, import_events
from loyalflow.members.import_files import ImportReport, ProgressCallback, UnusableInput
from loyalflow.members.importer import ImportAborted, import_members
from loyalflow.models.db import SchemaNotCurrent, assert_schema_current
from loyalflow.runtime.connection import connect

EXIT_REJECTED = 1
EXIT_UNUSABLE = 2
EXIT_ABORTED = 3
EXIT_STATUS_HELP = (
    "Exit status: 0 every row imported; 1 some rows rejected (all the other rows are imported);"
    " 2 nothing imported (unreadable file, wrong header or format, database not migrated);"
    " 3 stopped part-way by a database error (the batches already committed are kept, and"
    " running the same file again is safe)."
)

import_app = typer.Typer(
    help="Import members (CSV) and events (JSON Lines) in bulk.", no_args_is_help=True
)
console = Console(soft_wrap=True)  # report lines stay whole, for grep and scripts
err = Console(stderr=True, soft_wrap=True)

FileArgument = Annotated[
    Path, typer.Argument(metavar="FILE", show_default=False, help="the file to import")
]
RejectsOption = Annotated[
    Path | None,
    typer.Option(
        "--rejects",
        metavar="FILE",
        help="write every rejected row to FILE (CSV: line, reason, input); the report prints"
        " only the first 50",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="the report as JSON (counts and rejected rows)")
]


def _ready_settings() -> Settings:
    settings = get_settings()
    try:
        assert_schema_current(settings.effective_database_url)
    except (SchemaNotCurrent, SQLAlchemyError) as exc:
        err.print(f"[red]cannot import[/red]: {escape(str(exc))}")
        raise typer.Exit(EXIT_UNUSABLE) from exc
    return settings


@contextmanager
def _progress(path: Path) -> Iterator[ProgressCallback]:
    """A bar by bytes read: a streamed file's row count is unknown until its end."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(f"importing {path.name}", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _counts(path: Path, report: ImportReport) -> None:
    table = Table(title=path.name, title_justify="left", show_header=False, box=None)
    table.add_row("rows read", str(report.rows))
    for name, value in report.counts().items():
        table.add_row(name, str(value))
    table.add_row("rejected", f"[red]{report.rejected}[/red]" if report.rejected else "0")
    console.print(table)


def _rejections(report: ImportReport, rejects: Path | None) -> None:
    if not report.rejected:
        return
    console.print("rejected rows:")
    for rejection in report.rejections:
        console.print(f"  line {rejection.line}: {rejection.reason}", markup=False)
    hidden = report.rejected - len(report.rejections)
    if rejects is not None:
        console.print(f"all {report.rejected} rejected rows are in {rejects}", markup=False)
    elif hidden:
        console.print(f"  … and {hidden} more (--rejects FILE saves them all)")


def _routing(report: EventsReport) -> None:
    if report.routed:
        console.print(f"routing: {report.routed} events routed to journeys")
    if report.not_routed:
        console.print(
            f"routing: skipped (--no-route); {report.not_routed} events stored as routed,"
            " no journey started or signalled"
        )
    if report.unrouted:
        err.print(
            f"[yellow]routing pending[/yellow]: {escape(report.routing_problem or '')}; "
            f"{report.unrouted} events are stored and a worker will route them"
        )


def _print_report(
    path: Path, report: ImportReport, rejects: Path | None, as_json: bool = False
) -> None:
    if as_json:
        # Plain stdout for programs: counts, routing and every reported rejection.
        sys.stdout.write(json.dumps({"file": str(path), **dataclasses.asdict(report)}) + "\n")
        return
    _counts(path, report)
    if isinstance(report, EventsReport):
        _routing(report)
    _rejections(report, rejects)


def _finish(report: ImportReport) -> None:
    raise typer.Exit(EXIT_REJECTED if report.rejected else 0)


def _aborted(path: Path, exc: ImportAborted, rejects: Path | None) -> typer.Exit:
    _print_report(path, exc.report, rejects)
    err.print(f"[red]{escape(str(exc))}[/red]")
    err.print("the batches already committed are kept; running the same file again is safe")
    return typer.Exit(EXIT_ABORTED)


def _unusable(exc: UnusableInput) -> typer.Exit:
    err.print(f"[red]nothing imported[/red]: {escape(str(exc))}")
    return typer.Exit(EXIT_UNUSABLE)


# Help as one string per paragraph: Typer's Rich help keeps a docstring's line breaks.
MEMBERS_HELP = (
    "Create or update members from a CSV file, as PUT /members/{id} does.\n\n"
    "The header row names the columns: member_id (required), email, phone, first_name, locale,"
    " timezone. Any other column is a custom attribute, stored as a string. An empty cell"
    " leaves that field as it is. Rows are committed 500 at a time; a bad row is rejected on its"
    " own, with its line number, and the others are imported. Importing the same file again"
    " changes nothing."
)
EVENTS_HELP = (
    "Store events from a JSON Lines file and route them to journeys, as POST /events does.\n\n"
    'One event per line: {"event_id", "member_id", "type", "occurred_at", "properties"}. An'
    " event_id already stored is a duplicate and changes nothing, so importing the same file"
    " again is safe. Rows are committed 500 at a time; a bad row (invalid JSON or event, unknown"
    " member) is rejected on its own, with its line number, and the others are imported. If"
    " Temporal is unreachable, the events stay stored and a worker routes them later."
)


@import_app.command("members", help=MEMBERS_HELP, epilog=EXIT_STATUS_HELP)
def members(file: FileArgument, rejects: RejectsOption = None, as_json: JsonOption = False) -> None:
    settings = _ready_settings()
    try:
        with _progress(file) as on_progress:
            report = import_members(settings, file, rejects=rejects, on_progress=on_progress)
    except UnusableInput as exc:
        raise _unusable(exc) from exc
    except ImportAborted as exc:
        raise _aborted(file, exc, rejects) from exc
    _print_report(file, report, rejects, as_json)
    _finish(report)


@import_app.command("events", help=EVENTS_HELP, epilog=EXIT_STATUS_HELP)
def events(
    file: FileArgument,
    rejects: RejectsOption = None,
    no_route: Annotated[
        bool,
        typer.Option(
            "--no-route",
            help="store the events without starting or signalling journeys, e.g. to backfill"
            " history: members get no welcome email for a join from years ago",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    settings = _ready_settings()
    try:
        with _progress(file) as on_progress:
            report = asyncio.run(
                import_events(
                    settings,
                    file,
                    route=not no_route,
                    connect=lambda: connect(settings, wait_seconds=5),
                    rejects=rejects,
                    on_progress=on_progress,
                )
            )
    except UnusableInput as exc:
        raise _unusable(exc) from exc
    except ImportAborted as exc:
        raise _aborted(file, exc, rejects) from exc
    _print_report(file, report, rejects, as_json)
    _finish(report)
