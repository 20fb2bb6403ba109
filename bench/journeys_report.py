"""bench/journeys.py's results: one phase's figures, and the tables and JSON of a whole run.

Every round runs the three phases back to back (loyalflow, bare, shaped), so each round's ratios
compare runs made under the same load; the summary quotes the median of each figure over rounds.
"""

import os
import statistics
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

IDLE_SAMPLES = 20
console = Console(width=160)  # the tables are wide; a pipe or a log file gets them whole
PROCESSES = ["temporal", "worker", "api", "bench"]
# bench/journeys.py's phase names, in the order a round runs them; ratios are ours / each baseline.
OURS, BASELINES = "loyalflow", ("bare", "shaped")


@dataclass(frozen=True)
class Run:
    wall_seconds: float  # first start to last email
    latencies_ms: list[float]  # per journey: just before its start to its email's appearance
    calls_ms: list[float]  # how long each start call (POST /events, start_workflow) took


@dataclass(frozen=True)
class Phase:
    name: str
    round: int
    loaded: Run  # N journeys, C starts in flight
    idle_ms: list[float]  # latencies of journeys started one at a time on an idle system
    cpu_ms: dict[str, float]  # CPU time per journey of the loaded run, by process
    load_average: float  # 1-minute load average at the end of the loaded run

    @property
    def journeys(self) -> int:
        return len(self.loaded.latencies_ms)

    @property
    def per_second(self) -> float:
        return self.journeys / self.loaded.wall_seconds

    def percentile(self, percent: int, values: list[float] | None = None) -> float:
        values = self.loaded.latencies_ms if values is None else values
        return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]

    @property
    def idle_p50(self) -> float:
        return statistics.median(self.idle_ms)

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu_ms.get(name, 0.0) for name in PROCESSES)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "round": self.round,
            "journeys": self.journeys,
            "wall_seconds": round(self.loaded.wall_seconds, 3),
            "journeys_per_second": round(self.per_second, 2),
            "p50_ms": round(self.percentile(50), 1),
            "p99_ms": round(self.percentile(99), 1),
            "start_call_p50_ms": round(self.percentile(50, self.loaded.calls_ms), 1),
            "idle_p50_ms": round(self.idle_p50, 1),
            "cpu_ms_per_journey": {name: round(ms, 1) for name, ms in self.cpu_ms.items()},
            "load_average_1m": round(self.load_average, 2),
        }


def ratios(ours: Phase, baseline: Phase) -> dict[str, float]:
    return {
        "throughput": ours.per_second / baseline.per_second,
        "idle_p50": ours.idle_p50 / baseline.idle_p50,
        "cpu_total": ours.cpu_total / baseline.cpu_total,
    }


def median_ratios(rounds: list[dict[str, Phase]], baseline: str) -> dict[str, float]:
    each = [ratios(r[OURS], r[baseline]) for r in rounds]
    return {key: statistics.median(r[key] for r in each) for key in each[0]}


def report(rounds: list[dict[str, Phase]], concurrency: int) -> dict[str, Any]:
    nproc = len(os.sched_getaffinity(0))
    table = Table(
        title=f"welcome journeys (nproc {nproc}, concurrency {concurrency}, {len(rounds)} rounds)",
        caption=(
            "times in ms; call: POST /events or start_workflow; idle: "
            f"{IDLE_SAMPLES} journeys one at a time; CPU ms per journey of the loaded run by "
            "process (bench: this process, which also runs the bare and shaped workers); "
            "load: 1-min load average after the loaded run"
        ),
    )
    columns = ["round", "", "journeys/s", "p50", "p99", "call p50", "idle p50", *PROCESSES, "load"]
    for column in columns:
        table.add_column(column, justify="left" if column == "" else "right")
    for number, phases in enumerate(rounds, 1):
        for phase in phases.values():
            s = phase.summary()
            table.add_row(
                str(number),
                phase.name,
                f"{phase.per_second:.1f}",
                f"{s['p50_ms']:.0f}",
                f"{s['p99_ms']:.0f}",
                f"{s['start_call_p50_ms']:.0f}",
                f"{s['idle_p50_ms']:.0f}",
                *(f"{phase.cpu_ms.get(name, 0.0):.1f}" for name in PROCESSES),
                f"{phase.load_average:.2f}",
            )
    console.print(table)
    summary = Table(title="loyalflow / baseline, per round and median", caption="cpu: total CPU ms")
    for column in ("baseline", "journeys/s ratios", "median", "idle p50 ratio", "cpu ratio"):
        summary.add_column(column, justify="left" if column == "baseline" else "right")
    medians = {}
    for baseline in BASELINES:
        each = [ratios(r[OURS], r[baseline]) for r in rounds]
        medians[baseline] = median_ratios(rounds, baseline)
        summary.add_row(
            baseline,
            " ".join(f"{r['throughput']:.2f}x" for r in each),
            f"{medians[baseline]['throughput']:.2f}x",
            f"{medians[baseline]['idle_p50']:.1f}x",
            f"{medians[baseline]['cpu_total']:.1f}x",
        )
    console.print(summary)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", *sys.argv]),
        "nproc": nproc,
        "concurrency": concurrency,
        "rounds": [[phase.summary() for phase in r.values()] for r in rounds],
        "median_ratios": {
            name: {k: round(v, 3) for k, v in values.items()} for name, values in medians.items()
        },
    }
