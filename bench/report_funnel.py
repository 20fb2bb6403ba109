"""Benchmark: a journey's funnel and its experiment report on a large program.

    python bench/report_funnel.py [--db postgresql|sqlite|both] [--members 1000000]
                                  [--events 20000000] [--messages 5000000] [--repeat 3]
                                  [--keep] [--reuse]

For each database, the program of bench/report_data.py (every member in the built-in `welcome`
journey, background events and other journeys' messages up to the totals) in the database
bench/program_db.py names (`--keep`/`--reuse` as bench/report.py), then times `journey_report` and
`experiment_report` (the code behind `loyalflow report journey|experiment` and the report API)
for the last 30 days (the default period) and for the journey's whole history, and prints the
PostgreSQL plans of the slowest queries' shapes. Figures go to bench/results/ as JSON.
See bench/README.md.
"""

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar

from program_db import RESULTS_DIR, add_program_options, program_of
from rich.console import Console
from rich.table import Table

from loyalflow.analytics.experiment_report import experiment_report
from loyalflow.analytics.journey_lookup import split_steps
from loyalflow.analytics.journey_models import ReportPeriod
from loyalflow.analytics.journey_report import journey_report
from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings

T = TypeVar("T")
PG_BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
console = Console()


def timed(call: Callable[[], T], repeat: int) -> tuple[list[float], T]:
    seconds: list[float] = []
    result: T | None = None
    for _ in range(repeat):
        began = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - began)
    assert result is not None
    return seconds, result


def run(kind: str, options: argparse.Namespace) -> dict[str, object]:
    settings = Settings(_env_file=None)
    journey = get_catalog(settings).journeys["welcome"]
    split = split_steps(journey)[0]
    figures: dict[str, object] = {"database": kind}
    began = time.monotonic()
    with program_of(kind, options, console.print) as url:
        figures["prepare_seconds"] = round(time.monotonic() - began, 1)
        now = datetime.now(UTC)
        periods = {
            "last 30 days": ReportPeriod(start=now - timedelta(days=30), end=now),
            "whole history": ReportPeriod(),
        }
        measured = []
        for label, period in periods.items():
            funnel_s, funnel = timed(partial(journey_report, url, journey, period), options.repeat)
            experiment_s, _ = timed(
                partial(experiment_report, url, journey, split, period), options.repeat
            )
            measured.append(
                {
                    "period": label,
                    "entries": funnel.total.entered,
                    "journey_report_seconds": [round(s, 3) for s in funnel_s],
                    "experiment_report_seconds": [round(s, 3) for s in experiment_s],
                }
            )
        figures["measurements"] = measured
    return figures


def show(results: list[dict[str, object]], options: argparse.Namespace) -> None:
    table = Table(
        title=f"journey funnel and experiment report: {options.members:,} members, "
        f"{options.events:,} events, {options.messages:,} messages (median of {options.repeat})",
        title_justify="left",
    )
    for column in ("database", "period", "entries", "journey report (s)", "experiment (s)"):
        table.add_column(column)
    for result in results:
        for m in result["measurements"]:  # type: ignore[attr-defined]
            table.add_row(
                str(result["database"]),
                m["period"],
                f"{m['entries']:,}",
                f"{statistics.median(m['journey_report_seconds']):.3f}",
                f"{statistics.median(m['experiment_report_seconds']):.3f}",
            )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=["postgresql", "sqlite", "both"], default="postgresql")
    parser.add_argument("--repeat", type=int, default=3)
    add_program_options(parser)
    options = parser.parse_args()
    kinds = ["postgresql", "sqlite"] if options.db == "both" else [options.db]
    results = [run(kind, options) for kind in kinds]
    show(results, options)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = RESULTS_DIR / f"report-funnel-{stamp}.json"
    path.write_text(json.dumps({"options": vars(options), "results": results}, indent=2))
    console.print(f"written to {path}")


if __name__ == "__main__":
    main()
