"""The worker's sticky cache bounds its memory: however many journeys wait on a timer, it keeps
at most `LOYALFLOW_WORKER_MAX_CACHED_WORKFLOWS` runs in memory, and a run it evicted is rebuilt
from its history when it has work again (here: the event that ends it).

Runs on the dev server (real time): the journeys wait three days and stay waiting, as a
campaign's would; the time-skipping server would fire their timers.
"""

import asyncio
import gc
import uuid

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from loyalflow.config import Settings
from loyalflow.models.workflow_io import JourneyResult, MemberEvent
from loyalflow.workflows.journey import JourneyWorkflow
from tests.journey_helpers import create_member
from tests.workflows.journey_kit import journey_worker, start_directly

CACHE = 5
RUNS = 4 * CACHE

WAITING = """
id: cache_probe
name: Waits three days, unless the member buys
trigger: {event: visit}
topic: offers
exit_when:
  - event: purchase
steps:
  - id: wait_3_days
    kind: wait
    duration: 3d
"""


def cached_runs() -> int:
    """Journey runs alive in this process: each sandboxed run has a class of its own, so they
    are counted by class name, after a collection so that evicted runs no longer count."""
    gc.collect()
    return sum(
        1
        for obj in gc.get_objects()
        if type(obj).__name__ == "JourneyWorkflow"
        and type(obj).__module__ == "loyalflow.workflows.journey"
    )


async def timer_started(handle: WorkflowHandle[JourneyWorkflow, JourneyResult]) -> bool:
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            return True
    return False


async def wait_for_timer(handle: WorkflowHandle[JourneyWorkflow, JourneyResult]) -> None:
    for _ in range(600):
        if await timer_started(handle):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{handle.id} never started its 3-day timer")


async def test_cache_holds_at_most_its_size_and_evicted_runs_still_finish(
    dev_server_env: WorkflowEnvironment, settings: Settings
) -> None:
    settings = settings.model_copy(update={"worker_max_cached_workflows": CACHE})
    async with journey_worker(dev_server_env.client, settings):
        members = [f"cache-{uuid.uuid4().hex[:8]}" for _ in range(RUNS)]
        for member in members:
            create_member(settings, member, email=f"{member}@example.com")
        handles = [
            await start_directly(dev_server_env, settings, WAITING, member) for member in members
        ]
        for handle in handles:
            await wait_for_timer(handle)

        alive = cached_runs()
        assert 0 < alive <= CACHE, f"{alive} runs in memory for a cache of {CACHE}"

        now = await dev_server_env.get_current_time()
        for index, handle in enumerate(handles):
            event = MemberEvent(event_id=f"buy-{index}", type="purchase", occurred_at=now)
            await handle.signal(JourneyWorkflow.member_event, event)
        results = [await handle.result() for handle in handles]

    assert {result.exit_reason for result in results} == {"exit_when: purchase"}
    assert cached_runs() <= CACHE
