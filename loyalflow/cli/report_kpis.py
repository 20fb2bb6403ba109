"""`loyalflow report kpis`: the program KPI report as Rich tables, JSON or CSV, on the screen or
in a file. Other formats (the HTML report) register a renderer in `RENDERERS`."""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from loyalflow.analytics.kpi_models import GroupBy, KpiReport
from loyalflow.cli.kpi_csv import report_csv

# A format's renderer takes the report and returns the file's text. `--format html` is added
# here by the HTML report (a function KpiReport -> str), without changing this command.
RENDERERS: dict[str, Callable[[KpiReport], str]] = {
    "json": lambda report: report.model_dump_json(indent=2) + "\n",
    "csv": report_csv,
}

err = Console(stderr=True)


def kpis(
    start: Annotated[
        str | None,
        typer.Option("--from", help="a date (UTC) or ISO 8601 time; default: 30 days before --to"),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="a date (that day included) or ISO 8601 time; default: now"),
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="figures per current tier or locale")
    ] = None,
    output: Annotated[
        str,
        typer.Option(
            "--format", help="table, json, csv or html (default file: <home>/output/report-kpis-*)"
        ),
    ] = "table",
    out: Annotated[Path | None, typer.Option("--out", help="write to this file")] = None,
) -> None:
    """Program KPIs for a period: members, purchases, points, tiers, retention, RFM."""
    from loyalflow.analytics.kpi_period import PeriodError, parse_period
    from loyalflow.analytics.kpis import kpi_report
    from loyalflow.config import get_settings
    from loyalflow.rules.loyalty import rules_from

    formats = ("table", *RENDERERS, "html")
    if output not in formats:
        _refuse("--format", f"{output!r}: one of {', '.join(formats)}")
    if by not in (None, "tier", "locale"):
        _refuse("--by", f"{by!r}: tier or locale")
    try:
        period = parse_period(start, end)
    except PeriodError as error:
        _refuse(f"--{error.field}", error.message)
    settings = get_settings()
    group: GroupBy | None = "tier" if by == "tier" else "locale" if by == "locale" else None
    report = kpi_report(
        settings.effective_database_url, rules_from(settings.loyalty_rules_file), period, group
    )
    if output == "html":  # one file with charts; by default in the home's output folder
        from loyalflow.cli.report_html import write_html

        write_html(report, out)
        return
    if output == "table":
        from loyalflow.cli.kpi_tables import print_report

        console = Console(file=out.open("w"), width=100) if out else Console()
        print_report(console, report)
        if out:
            console.file.close()
    else:
        text = RENDERERS[output](report)
        if out:
            out.write_text(text)
        else:
            typer.echo(text, nl=False)
    if out:
        err.print(f"written to {out}")


def _refuse(option: str, message: str) -> NoReturn:
    err.print(f"[red]{option}[/red]: {message}", soft_wrap=True)
    raise typer.Exit(2)
