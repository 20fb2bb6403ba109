"""The baselines for bench/journeys.py: two bare Temporal workflows, no loyalflow code.

`BareWorkflow`: one activity writes a small .eml-like file, then the workflow sleeps for three
days, so that it stays open like a journey does. No database, no templates, no search attributes.

`ShapedWorkflow`: the welcome journey's shape of Temporal commands, as its recorded history shows
(tests/histories/welcome-v2-completed.json), with the least work behind each command. First
workflow task: a local activity (the A/B assignment), an upsert of `Step` and `Variant`, a local
activity (the progress batch), then an activity that inserts one SQLite row and writes one file
(the send). Second workflow task: an upsert of `Step`, a local activity (the progress batch), and
a 3-day timer. Its ratio isolates loyalflow's own overhead from Temporal's cost for the shape.

The workflow sandbox re-imports this module: keep it free of side effects.
"""

import asyncio
import os
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.common import SearchAttributeKey

TASK_QUEUE = "bench-bare"
SHAPED_TASK_QUEUE = "bench-shaped"
STEP = SearchAttributeKey.for_keyword("Step")
VARIANT = SearchAttributeKey.for_keyword("Variant")
TIMEOUT = timedelta(seconds=30)


@dataclass(frozen=True)
class BareInput:
    recipient: str
    outbox: str
    database: str = ""  # ShapedWorkflow only: the SQLite file its send activity writes a row to


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


def create_database(path: str) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=wal")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS message (id TEXT PRIMARY KEY, recipient TEXT)"
        )


def _record_and_write(request: BareInput) -> str:
    with sqlite3.connect(request.database, timeout=30) as connection:
        connection.execute(
            "INSERT INTO message (id, recipient) VALUES (?, ?)",
            (str(uuid.uuid4()), request.recipient),
        )
    return _write(request)


@activity.defn
async def record_and_write(request: BareInput) -> str:
    return await asyncio.to_thread(_record_and_write, request)


@activity.defn
async def pick(recipient: str) -> str:
    """Stands for the local activities (assignment, progress): a value, no I/O."""
    return "a" if hash(recipient) % 2 else "b"


@workflow.defn
class BareWorkflow:
    @workflow.run
    async def run(self, request: BareInput) -> None:
        await workflow.execute_activity(write_message, request, start_to_close_timeout=TIMEOUT)
        await workflow.sleep(timedelta(days=3))


@workflow.defn
class ShapedWorkflow:
    @workflow.run
    async def run(self, request: BareInput) -> None:
        variant = await workflow.execute_local_activity(
            pick, request.recipient, start_to_close_timeout=TIMEOUT
        )
        workflow.upsert_search_attributes(
            [STEP.value_set("welcome_email"), VARIANT.value_set(variant)]
        )
        await workflow.execute_local_activity(
            pick, request.recipient, start_to_close_timeout=TIMEOUT
        )
        await workflow.execute_activity(record_and_write, request, start_to_close_timeout=TIMEOUT)
        workflow.upsert_search_attributes([STEP.value_set("wait_3_days")])
        await workflow.execute_local_activity(
            pick, request.recipient, start_to_close_timeout=TIMEOUT
        )
        await workflow.sleep(timedelta(days=3))
