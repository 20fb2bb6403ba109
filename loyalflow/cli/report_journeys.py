"""`loyalflow report journey ID` and `loyalflow report experiment ID`: a journey's funnel and an
experiment's verdict, as Rich tables, JSON, CSV (or HTML, from the HTML report's renderer)."""

import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from loyalflow.analytics.journey_models import (
    Comparison,
    ExperimentReport,
    Funnel,
    JourneyReport,
    ReportPeriod,
)
from loyalflow.analytics.report_window import PeriodError, parse_moment, report_period
from loyalflow.cli.report_csv import experiment_csv, journey_csv
from loyalflow.cli.report_html import write_html

err = Console(stderr=True)


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    html = "html"


FromOption = Annotated[
    str | None, typer.Option("--from", help="entries from this date or time (default: 30 days ago)")
]
ToOption = Annotated[
    str | None,
    typer.Option("--to", help="entries up to this date (inclusive) or time (default: now)"),
]
FormatOption = Annotated[Format, typer.Option("--format", help="table, json, csv or html")]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="write to this file, not stdout (html: default <home>/output/report-<kind>-<id>.html)",
    ),
]


# --- tables ----------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _funnel_row(funnel: Funnel) -> list[str]:
    return [
        funnel.version or "all",
        str(funnel.entered),
        str(funnel.in_progress),
        str(funnel.completed),
        "-" if funnel.converted is None else str(funnel.converted),
        _pct(funnel.conversion_rate),
        "-" if funnel.revenue is None else str(funnel.revenue),
        "; ".join(f"{e.label}: {e.count}" for e in funnel.exits),
    ]


def journey_tables(report: JourneyReport) -> list[Table]:
    period = report.period
    title = (
        f"{report.journey_id} ({report.name}): entries from {period.start:%Y-%m-%d %H:%M} "
        f"to {period.end:%Y-%m-%d %H:%M} UTC"
        if period.start and period.end
        else f"{report.journey_id} ({report.name})"
    )
    if report.goal is not None:
        title += f"; goal: {report.goal.event} within {report.goal.within_days:g} days"
    funnels = Table(title=title, title_justify="left")
    for column in ("version", "entered", "in progress", "completed", "converted", "rate",
                   "revenue", "exits"):  # fmt: skip
        funnels.add_column(column)
    funnels.add_row(*_funnel_row(report.total), style="bold")
    if len(report.versions) > 1:
        for version in report.versions:
            funnels.add_row(*_funnel_row(version))
    steps = Table(title="steps", title_justify="left")
    for column in ("step", "kind", "reached", "waiting now"):
        steps.add_column(column)
    for step in report.total.steps:
        steps.add_row(step.step_id, step.kind, str(step.reached), str(step.waiting_now))
    sends = Table(title="sends (opened, clicked: people, unique; rates over delivered)",
                  title_justify="left")  # fmt: skip
    for column in ("step", "channel", "sent", "delivered", "bounced", "opened", "clicked",
                   "unsubscribed", "fell back", "not sent"):  # fmt: skip
        sends.add_column(column)
    for send in report.total.sends:
        sends.add_row(
            send.step_id,
            send.channel,
            str(send.sent),
            str(send.delivered),
            str(send.bounced),
            f"{send.opened} ({_pct(send.open_rate)})",
            f"{send.clicked} ({_pct(send.click_rate)})",
            str(send.unsubscribed),
            str(send.fell_back),
            "; ".join(f"{r.label}: {r.count}" for r in send.not_sent),
        )
    return [funnels, steps, sends]


def _lift(c: Comparison | None) -> str:
    if c is None or c.lift is None:
        return "-"
    interval = c.lift_interval
    span = f" [{interval.low * 100:+.1f}, {interval.high * 100:+.1f}]" if interval else ""
    return f"{c.lift * 100:+.1f}{span}"


def _rate(c: Comparison | None) -> str:
    if c is None or c.rate is None:
        return "-"
    interval = c.rate_interval
    span = f" [{interval.low:.1%}, {interval.high:.1%}]" if interval else ""
    return f"{c.successes} = {c.rate:.1%}{span}"


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def experiment_table(report: ExperimentReport) -> Table:
    table = Table(
        title=f"experiment {report.experiment} ({report.journey_id}, step {report.split_step}); "
        f"control: {report.control}; at least {report.min_per_arm} entries per arm",
        title_justify="left",
        caption=report.verdict,
        caption_justify="left",
    )
    for column in ("variant", "entered", "converted [95%]", "lift, points [95%]", "p",
                   "p (Holm)", "clicked [95%]", "click lift [95%]", "p (Holm), clicks"):  # fmt: skip
        table.add_column(column)
    for v in report.variants:
        c = v.conversion
        table.add_row(
            v.variant + (" (control)" if v.control else ""),
            str(v.entered),
            _rate(c),
            _lift(c),
            _p(c.p_value if c else None),
            _p(c.p_value_holm if c else None) + (" *" if c and c.significant else ""),
            _rate(v.clicks),
            _lift(v.clicks),
            _p(v.clicks.p_value_holm if v.clicks else None),
        )
    return table


# --- commands --------------------------------------------------------------------------------


def _period(start: str | None, end: str | None) -> ReportPeriod:
    try:
        return report_period(
            parse_moment(start, "--from") if start else None,
            parse_moment(end, "--to") if end else None,
            datetime.now(UTC),
        )
    except PeriodError as exc:
        hint = "--from" if exc.field in ("from", "--from") else "--to"
        raise typer.BadParameter(str(exc), param_hint=hint) from exc


def _emit(text: str | None, tables: list[Table], out: Path | None) -> None:
    if text is None:
        if out is None:
            Console(width=None if sys.stdout.isatty() else 200).print(*tables)
            return
        with out.open("w", encoding="utf-8") as file:
            Console(file=file, width=200).print(*tables)
        return
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        out.write_text(text, encoding="utf-8")


def journey(
    journey_id: Annotated[str, typer.Argument(metavar="ID", help="journey id, e.g. welcome")],
    start: FromOption = None,
    end: ToOption = None,
    fmt: FormatOption = Format.table,
    out: OutOption = None,
) -> None:
    """A journey's funnel: entries, exits, conversions, revenue, steps and sends.

    For the entries in the period: entered, in progress, completed, exits by reason, conversions
    and revenue within the goal window; each step reached and waiting; each send's delivery,
    opens, clicks, unsubscribes and what was not sent; for all versions and for each."""
    from loyalflow.analytics.results import journey_report_by_id
    from loyalflow.config import get_settings

    period = _period(start, end)
    report = journey_report_by_id(get_settings(), journey_id, period)
    if report is None:
        err.print(f"[red]no journey {journey_id!r}[/red] (neither loaded nor ever published)")
        raise typer.Exit(1)
    if fmt is Format.table:
        _emit(None, journey_tables(report), out)
    elif fmt is Format.json:
        _emit(report.model_dump_json(indent=2), [], out)
    elif fmt is Format.csv:
        _emit(journey_csv(report), [], out)
    else:
        write_html(report, out)


def experiment(
    experiment_id: Annotated[
        str,
        typer.Argument(
            metavar="ID",
            help="experiment name (welcome.subject_line; unnamed splits: journey.step), or a "
            "journey with one split",
        ),
    ],
    start: FromOption = None,
    end: ToOption = None,
    fmt: FormatOption = Format.table,
    out: OutOption = None,
    min_per_arm: Annotated[
        int | None, typer.Option(min=1, help="entries every arm needs before a verdict (100)")
    ] = None,
) -> None:
    """An experiment's results per variant, and its verdict.

    For the entries in the period: per variant, conversion and clicks with 95% intervals, lift
    against the control (the holdout when there is one) with its interval, p-values
    (Holm-corrected) and a one-sentence verdict."""
    from loyalflow.analytics.experiment_report import MIN_PER_ARM
    from loyalflow.analytics.results import experiment_report_by_id
    from loyalflow.config import get_settings

    period = _period(start, end)
    report = experiment_report_by_id(
        get_settings(), experiment_id, period, min_per_arm or MIN_PER_ARM
    )
    if report is None:
        err.print(f"[red]no experiment {experiment_id!r}[/red] (no split has that name)")
        raise typer.Exit(1)
    if fmt is Format.table:
        _emit(None, [experiment_table(report)], out)
    elif fmt is Format.json:
        _emit(report.model_dump_json(indent=2), [], out)
    elif fmt is Format.csv:
        _emit(experiment_csv(report), [], out)
    else:
        write_html(report, out)
