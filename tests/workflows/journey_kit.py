"""Running journeys written by the test itself, on the time-skipping server, with the real worker."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import yaml
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from loyalflow.config import Settings
from loyalflow.models.journey import Journey
from loyalflow.models.workflow_io import JourneyInput, JourneyResult, MemberEvent, TrailEntry
from loyalflow.runtime.worker import build_worker
from loyalflow.workflows.journey import JourneyWorkflow
from tests.journey_helpers import stop_running_journeys


def with_journeys(settings: Settings, directory: Path, *definitions: str) -> Settings:
    """Settings whose catalog holds exactly these YAML definitions (a fresh directory: the
    catalog is cached per directory)."""
    directory.mkdir(parents=True, exist_ok=False)
    for text in definitions:
        journey_id = yaml.safe_load(text)["id"]
        (directory / f"{journey_id}.yaml").write_text(text)
    return settings.model_copy(update={"journeys_dir": directory})


@contextlib.asynccontextmanager
async def journey_worker(
    client: Client, settings: Settings, **channels: Any
) -> AsyncIterator[None]:
    """The production worker on the test's task queue; the test's journeys stopped at the end."""
    async with build_worker(client, settings, **channels):
        try:
            yield
        finally:
            await stop_running_journeys(client, settings)


def steps(result: JourneyResult | list[TrailEntry]) -> list[tuple[str, str]]:
    trail = result.trail if isinstance(result, JourneyResult) else result
    return [(t.step, t.outcome) for t in trail]


async def start_directly(
    env: WorkflowEnvironment,
    settings: Settings,
    definition: str,
    member_id: str,
    **input_fields: Any,
) -> WorkflowHandle[JourneyWorkflow, JourneyResult]:
    """Starts a journey through the client (not the router), e.g. with a small history bound.
    The handle's `result()` lets the test server skip time by itself."""
    journey = Journey.model_validate(yaml.safe_load(definition))
    now = await env.get_current_time()
    trigger = MemberEvent(event_id=f"direct-{uuid.uuid4()}", type="visit", occurred_at=now)
    return await env.client.start_workflow(
        JourneyWorkflow.run,
        JourneyInput(journey=journey, member_id=member_id, trigger=trigger, **input_fields),
        id=journey.workflow_id(member_id),
        task_queue=settings.temporal_task_queue,
    )
