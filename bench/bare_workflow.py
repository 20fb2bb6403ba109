"""The baseline for bench/journeys.py: a bare Temporal workflow shaped like the welcome journey.

One activity writes a small .eml-like file, then the workflow sleeps for three days, so that it
stays open like a journey does. No database, no templates, no search attributes.

The workflow sandbox re-imports this module: keep it free of side effects.
"""

import asyncio
import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow

TASK_QUEUE = "bench-bare"


@dataclass(frozen=True)
class BareInput:
    recipient: str
    outbox: str


def _write(request: BareInput) -> str:
    directory = Path(request.outbox)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{uuid.uuid4()}.eml"
    partial = target.with_suffix(".eml.partial")
    partial.write_text(f"To: {request.recipient}\nSubject: Welcome\n\nHello!\n")
    # Same atomic rename as loyalflow's outbox: a reader never sees half a file.
    os.replace(partial, target)
    return target.name


@activity.defn
async def write_message(request: BareInput) -> str:
    return await asyncio.to_thread(_write, request)


@workflow.defn
class BareWorkflow:
    @workflow.run
    async def run(self, request: BareInput) -> None:
        await workflow.execute_activity(
            write_message, request, start_to_close_timeout=timedelta(seconds=30)
        )
        await workflow.sleep(timedelta(days=3))
