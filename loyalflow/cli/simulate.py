"""`loyalflow simulate` and `loyalflow demo`: journeys in skipped time, on Temporal's test server."""

import asyncio
import dataclasses
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from loyalflow.catalog.loader import JourneyLoadError
from loyalflow.simulation.timeline import TimelineRow

if TYPE_CHECKING:
    from rich.console import RenderableType

    from loyalflow.simulation.demo import DemoRun

# Timelines are wide: a pipe or a file gets 160 columns rather than 80.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)

OUTCOME_STYLE = {
    "sent": "green",
    "skipped": "yellow",
    "deferred": "yellow",
    "failed": "red",
    "converted": "bold green",
    "exit": "cyan",
    "received": "blue",
    "derived": "blue",
}


def _offset(at: datetime, start: datetime) -> str:
    delta = at - start
    sign = "-" if delta.total_seconds() < 0 else "+"
    seconds = abs(int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    return f"{sign}{days}d {rest // 3600:02d}:{rest % 3600 // 60:02d}"


def timeline_table(title: str, start: datetime, rows: list[TimelineRow]) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("simulated time (UTC)", no_wrap=True)
    table.add_column("day", no_wrap=True, justify="right")
    table.add_column("journey", no_wrap=True)
    table.add_column("step", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("message / details")
    for row in rows:
        if row.channel and row.outcome == "sent":
            details = f"{row.channel} · {row.template} · “{row.subject or '(SMS)'}”"
        elif row.channel:
            details = f"{row.channel} · {row.template}: {row.detail}"
        else:
            details = row.detail
        style = OUTCOME_STYLE.get(row.outcome, "")
        table.add_row(
            f"{row.at:%Y-%m-%d %H:%M}",
            _offset(row.at, start),
            row.journey,
            row.step,
            f"[{style}]{row.outcome}[/]" if style else row.outcome,
            details,
        )
    return table


def simulate(
    journey: Annotated[
        str, typer.Argument(help="journey id (e.g. welcome) or a journey YAML file")
    ],
    member: Annotated[Path, typer.Option(help="member YAML/JSON: profile, consents, id")],
    script: Annotated[Path, typer.Option(help="YAML list of {at, type, properties} events")],
    days: Annotated[int, typer.Option(min=1, help="simulated days to run at most")] = 90,
    keep: Annotated[
        Path | None, typer.Option(help="keep the database and outbox in this directory")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the timeline as JSON")] = False,
) -> None:
    """Run one journey for one member in skipped time (Temporal's test server, the real workflow
    and activities, a throwaway database and outbox) and print the timeline."""
    from loyalflow.simulation.simulate import simulate as run

    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    try:
        start, rows = asyncio.run(run(journey, member, script, days, home=keep))
    except (FileNotFoundError, ValueError, ValidationError, JourneyLoadError) as exc:
        err.print(f"[red]cannot simulate[/red]: {exc}")
        raise typer.Exit(2) from exc
    if as_json:
        _print_json({"start": start, "rows": [dataclasses.asdict(row) for row in rows]})
        return
    console.print(
        timeline_table(f"{journey}: simulated from {start:%Y-%m-%d %H:%M} UTC", start, rows)
    )
    sent = sum(1 for r in rows if r.outcome == "sent")
    skipped = sum(1 for r in rows if r.outcome == "skipped")
    console.print(
        f"{sent} sent, {skipped} skipped; {days} simulated days at most, "
        f"in {time.monotonic() - began:.1f}s"
        + (f"; database and outbox kept in {keep}" if keep else "")
    )


def _summary_tables(run: "DemoRun") -> list["RenderableType"]:
    from loyalflow.cli.report_journeys import experiment_table

    summary = run.summary
    journeys = Table(title="journeys", title_justify="left")
    for column in ("journey", "entered", "in progress", "converted", "rate", "exits"):
        journeys.add_column(column)
    for report in summary.journeys:
        total = report.total
        journeys.add_row(
            report.journey_id,
            str(total.entered),
            str(total.in_progress),
            "-" if total.converted is None else str(total.converted),
            "-" if total.conversion_rate is None else f"{total.conversion_rate:.1%}",
            "; ".join(f"{e.label}: {e.count}" for e in total.exits),
        )
    messages = Table(title="messages per journey / step / channel", title_justify="left")
    for column in ("journey", "step", "channel", "sent", "opened", "clicked", "other outcomes"):
        messages.add_column(column)
    for report in summary.journeys:
        for m in report.total.sends:
            others = [f"bounced {m.bounced}"] if m.bounced else []
            others += [f"fell back {m.fell_back}"] if m.fell_back else []
            others += [f"{r.label} {r.count}" for r in m.not_sent]
            messages.add_row(
                report.journey_id,
                m.step_id,
                m.channel,
                str(m.sent),
                str(m.opened),
                str(m.clicked),
                ", ".join(others),
            )
    skips = Table(title="not sent, by reason", title_justify="left")
    skips.add_column("reason")
    skips.add_column("count", justify="right")
    for reason, count in summary.not_sent:
        skips.add_row(reason, str(count))
    experiments = [experiment_table(e) for e in summary.experiments]
    heading = "experiments: per variant against the control, with a verdict under each"
    return [journeys, messages, skips, heading, *experiments]


def demo(
    members: Annotated[int, typer.Option(min=1, help="synthetic members")] = 500,
    days: Annotated[int, typer.Option(min=1, help="simulated days")] = 120,
    seed: Annotated[int, typer.Option(help="random seed: the same seed, the same program")] = 7,
    report: Annotated[Path, typer.Option(help="where to write the HTML report")] = Path(
        "loyalflow-demo.html"
    ),
    keep: Annotated[
        Path | None, typer.Option(help="keep the database and outbox in this directory")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="worker processes (default: one per core)")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="the summary as JSON (the report is written as well)")
    ] = False,
) -> None:
    """Simulate a synthetic loyalty program through every built-in journey in skipped time, print
    a summary and write an HTML report."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from loyalflow.config import get_settings
    from loyalflow.simulation.demo import run_demo
    from loyalflow.simulation.report import render_report

    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    journeys = sorted(get_settings().journeys_dir.glob("*.yaml"))
    began = time.monotonic()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err if as_json else console,  # stdout carries only the JSON
    ) as progress:
        task = progress.add_task(f"{members} members, simulated days", total=days)
        run = asyncio.run(
            run_demo(
                journeys,
                members,
                days,
                seed,
                home=keep,
                on_day=lambda _: progress.advance(task),
                workers=workers,
            )
        )
    elapsed = time.monotonic() - began
    report.write_text(render_report(run, elapsed), encoding="utf-8")
    if as_json:
        fields = {f.name: getattr(run, f.name) for f in dataclasses.fields(run)}
        summary = run.summary.model_dump(mode="json")
        _print_json({**fields, "summary": summary, "seconds": round(elapsed, 1), "report": report})
        return
    for table in _summary_tables(run):
        console.print(table)
    console.print(
        f"{members} members, {days} simulated days in {elapsed:.1f}s; report written to {report}"
        + (f"; database and outbox kept in {keep}" if keep else "")
    )


def _print_json(data: object) -> None:
    # Plain stdout, not Rich: the output is for programs (dates and paths as text).
    sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
