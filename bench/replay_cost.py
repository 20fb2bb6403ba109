"""Benchmark: CPU time of one journey run in the worker, by workflow runner (issue 13).

    python bench/replay_cost.py [--replays N] [--history welcome-v2-completed]

Replays a committed history (tests/histories/) N times with temporalio's `Replayer`, once per
runner: the default sandbox, the sandbox with every module passed through, and no sandbox. A
replay runs the same workflow code as a new run of that history does (instance creation, every
activation, payload conversion), without the server or the activities, so the difference between
runners is the sandbox's own cost per run. CPU time of this process (`time.process_time`), per
replay. See bench/README.md, "Session 6".
"""

import argparse
import asyncio
import os
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from loyalflow.workflows.journey import JourneyWorkflow

HISTORIES = Path(__file__).resolve().parent.parent / "tests" / "histories"
RUNNERS: dict[str, WorkflowRunner] = {
    "sandboxed (default)": SandboxedWorkflowRunner(),
    "sandboxed, all modules passed through": SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_all_modules()
    ),
    "unsandboxed": UnsandboxedWorkflowRunner(),
}


async def cpu_ms_per_replay(
    runner: WorkflowRunner, history: WorkflowHistory, replays: int
) -> float:
    replayer = Replayer(
        workflows=[JourneyWorkflow], data_converter=pydantic_data_converter, workflow_runner=runner
    )
    await replayer.replay_workflow(history)  # warm-up: imports, the runner's first preparation
    began = time.process_time()
    for _ in range(replays):
        await replayer.replay_workflow(history)
    return (time.process_time() - began) * 1000 / replays


async def run(replays: int, name: str) -> None:
    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    table = Table(title=f"{replays} replays of {name} (load {os.getloadavg()[0]:.2f})")
    table.add_column("runner")
    table.add_column("CPU ms per run", justify="right")
    for label, runner in RUNNERS.items():
        table.add_row(label, f"{await cpu_ms_per_replay(runner, history, replays):.1f}")
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--replays", type=int, default=100)
    parser.add_argument("--history", default="welcome-v2-completed")
    args = parser.parse_args()
    asyncio.run(run(args.replays, args.history))


if __name__ == "__main__":
    main()
