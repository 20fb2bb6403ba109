"""Times the full program KPI report (`loyalflow report kpis`) and the rollup of one day on a
generated program.

    python bench/report.py [--database postgresql|sqlite] [--members 1000000]
                           [--events 20000000] [--messages 5000000] [--keep] [--reuse]

The program is generated inside the database with SQL (bench/report_data.py), in a database
bench/program_db.py names (`--keep` leaves it for a later `--reuse`). Then the report runs as
`loyalflow report kpis` runs it: the default period (the last 30 days), grouped by tier, and a
past period (the 30 days ending 180 days ago, where "at the period end" must correct today's
member rows by the events since). Each is timed `--repeat` times; the figures printed are
wall-clock seconds, on whatever else the machine is doing.
"""

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from program_db import RESULTS_DIR, add_program_options, program_of
from rich.console import Console
from rich.table import Table

from loyalflow.analytics.kpi_models import Period
from loyalflow.analytics.kpi_period import default_period
from loyalflow.analytics.kpis import kpi_report
from loyalflow.analytics.rollup import rollup_day
from loyalflow.config import Settings
from loyalflow.rules.loyalty import load_rules

console = Console()


def timed(label: str, repeat: int, run: Callable[[], Any]) -> dict[str, Any]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return {
        "label": label,
        "runs": seconds,
        "best": min(seconds),
        "median": statistics.median(seconds),
    }


def measure(url: str, repeat: int) -> list[dict[str, Any]]:
    rules = load_rules(Settings(_env_file=None).loyalty_rules_file)
    now = datetime.now(UTC)
    past = Period(start=now - timedelta(days=210), end=now - timedelta(days=180))
    return [
        timed("KPI report, last 30 days", repeat, lambda: kpi_report(url, rules, default_period())),
        timed(
            "KPI report, by tier", repeat, lambda: kpi_report(url, rules, default_period(), "tier")
        ),
        timed("KPI report, 180 days ago", repeat, lambda: kpi_report(url, rules, past)),
        # The daily rollup (bench/rollup.py: the same on a program with opens, clicks, entries).
        timed(
            "rollup of one day", repeat, lambda: rollup_day(url, (now - timedelta(days=10)).date())
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--repeat", type=int, default=3)
    add_program_options(parser)
    options = parser.parse_args()
    with program_of(options.database, options, console.print) as url:
        results = measure(url, options.repeat)
    table = Table(title=f"KPI report on {options.database}, {options.members:,} members")
    for column in ("what", "best s", "median s", "runs"):
        table.add_column(column)
    for result in results:
        table.add_row(
            result["label"],
            f"{result['best']:.2f}",
            f"{result['median']:.2f}",
            " ".join(f"{s:.2f}" for s in result["runs"]),
        )
    console.print(table)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = RESULTS_DIR / f"report-{options.database}-{stamp}.json"
    out.write_text(json.dumps({"options": vars(options), "results": results}, indent=2))
    console.print(f"saved {out}")


if __name__ == "__main__":
    main()
