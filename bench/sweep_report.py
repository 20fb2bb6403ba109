"""bench/sweep.py's tables and JSON."""

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.table import Table
from sweep_shapes import (
    PROBE_DAYS,
    QUERY_REPEATS,
    SEGMENT_JOURNEY,
    TARGET_QUERY_SECONDS,
    Outcome,
    console,
)


def report(outcomes: Sequence[Outcome], options: argparse.Namespace) -> dict[str, Any]:
    table = Table(
        title=f"inactivity sweep over {options.members:,} members, pages of {options.page_size}",
        caption=(
            "import: loyalflow's importer; first page: emit_inactive (query, duplicate check, "
            "inserts, commit); query: the page query alone, median of "
            f"{QUERY_REPEATS}; pass: every page through emit_inactive, no routing; "
            f"target: page query < {TARGET_QUERY_SECONDS:.0f} s"
        ),
    )
    columns = ["db", "import rows/s", "first page ms", "query ms first/mid/last"]
    columns += [f"query ms {'/'.join(str(d) for d in PROBE_DAYS)}d"]
    columns += [
        "pass s",
        "pages",
        "emitted",
        "page p50/p99/max ms",
        "next day s",
        "next day emitted",
    ]
    for column in columns:
        table.add_column(column, justify="left" if column == "db" else "right")
    for outcome in outcomes:
        s = outcome.summary()
        first = s["passes"][0]
        again = s["passes"][1] if len(s["passes"]) > 1 else {}
        table.add_row(
            outcome.database,
            f"{s['importer_rows_per_second']:,}",
            f"{s['first_page_emit_inactive_ms']:.0f}",
            "/".join(f"{v:.1f}" for k, v in s["page_query_ms"].items() if not k.endswith("d")),
            "/".join(f"{v:.1f}" for k, v in s["page_query_ms"].items() if k.endswith("d")),
            f"{first['seconds']:.1f}",
            str(first["pages"]),
            f"{first['emitted']:,}",
            f"{first['page_p50_ms']:.0f}/{first['page_p99_ms']:.0f}/{first['page_max_ms']:.0f}",
            f"{again['seconds']:.1f}" if again else "",
            f"{again['emitted']:,}" if again else "",
        )
    console.print(table)
    console.print(segment_table(outcomes, options))
    for outcome in outcomes:
        for name, plan in outcome.plans.items():
            console.print(f"[bold]{outcome.database}[/bold], {name} page: plan", plan, sep="\n")
        for name, plan in outcome.segment_plans.items():
            console.print(
                f"[bold]{outcome.database}[/bold], {SEGMENT_JOURNEY} segment, {name} page: plan",
                plan,
                sep="\n",
            )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", *sys.argv]),
        "nproc": len(os.sched_getaffinity(0)),
        "options": vars(options),
        "target_query_seconds": TARGET_QUERY_SECONDS,
        "databases": [outcome.summary() for outcome in outcomes],
    }


def segment_table(outcomes: Sequence[Outcome], options: argparse.Namespace) -> Table:
    table = Table(
        title=(
            f"{SEGMENT_JOURNEY} segment sweep over {options.members:,} members, "
            f"pages of {options.page_size}"
        ),
        caption=(
            "enrolled: running enrollments inserted (5% of the segment); query: segment_page's "
            f"page query alone, median of {QUERY_REPEATS}; x inactivity: that / the inactivity "
            "page query at the same position, same run; call: segment_page (query + evaluation), "
            f"median of {QUERY_REPEATS}; pass: every page through segment_page, no journey starts"
        ),
    )
    columns = ["db", "enrolled", "query ms first/mid/last", "x inactivity first/mid/last"]
    columns += ["call ms first/mid/last", "pass s", "pages", "selected", "page p50/p99/max ms"]
    for column in columns:
        table.add_column(column, justify="left" if column == "db" else "right")
    for outcome in outcomes:
        segment = outcome.summary()["segment"]
        full = segment["pass"]
        if full is None:
            continue
        table.add_row(
            outcome.database,
            f"{segment['enrollments']:,}",
            "/".join(f"{v:.1f}" for v in segment["page_query_ms"].values()),
            "/".join(f"{v:.1f}" for v in segment["page_query_ratio_to_inactivity"].values()),
            "/".join(f"{v:.0f}" for v in segment["segment_page_ms"].values()),
            f"{full['seconds']:.1f}",
            str(full["pages"]),
            f"{full['emitted']:,} (expected {segment['expected_matches']:,})",
            f"{full['page_p50_ms']:.0f}/{full['page_p99_ms']:.0f}/{full['page_max_ms']:.0f}",
        )
    return table
