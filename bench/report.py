"""Times the full program KPI report (`loyalflow report kpis`) and the rollup of one day on a
generated program.

    python bench/report.py [--database postgresql|sqlite] [--members 1000000]
                           [--events 20000000] [--messages 5000000] [--keep] [--reuse]

The program is generated inside the database with SQL (bench/report_data.py), then the report
runs as `loyalflow report kpis` runs it: the default period (the last 30 days), grouped by tier,
and a past period (the 30 days ending 180 days ago, where "at the period end" must correct
today's member rows by the events since). Each is timed `--repeat` times; the figures printed are
wall-clock seconds, on whatever else the machine is doing. PostgreSQL: a schema of its own,
`LOYALFLOW_BENCH_DATABASE_URL` (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
`--keep` leaves the data for the next run, which `--reuse` takes as it is. SQLite: a file in
bench/results/.
"""

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from report_data import generate_program
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from loyalflow.analytics.kpi_models import Period
from loyalflow.analytics.kpi_period import default_period
from loyalflow.analytics.kpis import kpi_report
from loyalflow.analytics.rollup import rollup_day
from loyalflow.config import Settings
from loyalflow.models.db import get_engine, upgrade_database
from loyalflow.rules.loyalty import load_rules

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_report"
console = Console()


@contextmanager
def database(kind: str, members: int, keep: bool, reuse: bool) -> Iterator[tuple[str, bool]]:
    """(url, already filled): a PostgreSQL schema or a SQLite file named after the size."""
    if kind == "sqlite":
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"report-{members}.db"
        filled = reuse and path.exists()
        if not filled:
            for leftover in RESULTS_DIR.glob(f"report-{members}.db*"):
                leftover.unlink()
        url = f"sqlite:///{path}"
        try:
            yield url, filled
        finally:
            get_engine(url).dispose()
            if not keep:
                for leftover in RESULTS_DIR.glob(f"report-{members}.db*"):
                    leftover.unlink()
        return
    base = os.environ.get("LOYALFLOW_BENCH_DATABASE_URL", DEFAULT_PG)
    schema = f"{SCHEMA}_{members}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"), {"s": schema}
        ).first()
        filled = reuse and exists is not None
        if not filled:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = (
        make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    try:
        yield url, filled
    finally:
        get_engine(url).dispose()
        if not keep:
            with admin.connect() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


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
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    parser.add_argument("--reuse", action="store_true", help="use data kept by an earlier run")
    options = parser.parse_args()
    with database(options.database, options.members, options.keep, options.reuse) as (url, filled):
        if filled:
            console.print(f"reusing the program kept in {options.database}")
        else:
            upgrade_database(url)
            console.print(
                f"generating {options.members:,} members, {options.events:,} events, "
                f"{options.messages:,} messages on {options.database}"
            )
            generate_program(
                url, options.members, options.events, options.messages, log=console.print
            )
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
