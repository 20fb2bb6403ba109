"""The daily rollup at scale: the rollup of one day, and a year's time series read from the rollup,
on a generated program (default 1,000,000 members, 20,000,000 events, 5,000,000 messages).
Target (issue 17): one day's rollup under 30 s.

    python bench/rollup.py --database postgresql   # LOYALFLOW_TEST_DATABASE_URL or local PG
    python bench/rollup.py --database sqlite [--members 100000 --events 2000000 --messages 500000]

Prints a table and writes the figures to bench/results/rollup-<database>-<timestamp>.json.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rollup_data import load
from stack import RESULTS_DIR, console, pg_schema

from loyalflow.analytics.rollup import rollup_day
from loyalflow.analytics.timeseries import daily_series
from loyalflow.models.db import get_engine, upgrade_database

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "postgresql":
        base = os.environ.get("LOYALFLOW_TEST_DATABASE_URL", DEFAULT_PG)
        with pg_schema(base, f"bench_rollup_{os.getpid()}") as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="bench-rollup-") as directory:
        yield f"sqlite:///{Path(directory) / 'loyalflow.db'}"


def timed(action: object, *args: object, **kwargs: object) -> tuple[float, object]:
    started = time.perf_counter()
    result = action(*args, **kwargs)  # type: ignore[operator]
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="rollups of the same day")
    options = parser.parse_args()
    with database(options.database) as url:
        upgrade_database(url)
        started = time.perf_counter()
        load(get_engine(url), options.members, options.events, options.messages, console.print)
        generated = time.perf_counter() - started
        today = datetime.now(UTC).date()
        days = [today - timedelta(days=n) for n in (10, 11, 200)]
        runs: dict[date, list[float]] = {}
        rows: dict[date, int] = {}
        for day in days:
            for _ in range(options.repeat):
                seconds, done = timed(rollup_day, url, day)
                runs.setdefault(day, []).append(seconds)
                rows[day] = done.rows  # type: ignore[attr-defined]
        first, last = today - timedelta(days=365), today - timedelta(days=1)
        series_seconds, _ = timed(daily_series, url, first, last)
        get_engine(url).dispose()
    report(options, generated, runs, rows, series_seconds)


def report(
    options: argparse.Namespace,
    generated: float,
    runs: dict[date, list[float]],
    rows: dict[date, int],
    series_seconds: float,
) -> None:
    table = Table(
        title=f"daily rollup on {options.database}: {options.members:,} members, "
        f"{options.events:,} events, {options.messages:,} messages (generated in {generated:.0f} s)"
    )
    for column in ("day", "rows", "first s", "median s", "max s"):
        table.add_column(column, justify="right")
    for day, seconds in runs.items():
        table.add_row(
            str(day),
            str(rows[day]),
            f"{seconds[0]:.2f}",
            f"{statistics.median(seconds):.2f}",
            f"{max(seconds):.2f}",
        )
    console.print(table)
    console.print(f"time series of 365 days, read from the rollup: {series_seconds * 1000:.0f} ms")
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"rollup-{options.database}-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "database": options.database,
                "members": options.members,
                "events": options.events,
                "messages": options.messages,
                "generated_seconds": generated,
                "rollup_seconds": {str(d): s for d, s in runs.items()},
                "rows": {str(d): r for d, r in rows.items()},
                "series_365_days_seconds": series_seconds,
            },
            indent=2,
        )
    )
    console.print(f"written to {out}")


if __name__ == "__main__":
    main()
