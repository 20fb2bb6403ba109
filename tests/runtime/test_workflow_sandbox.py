"""`loyalflow worker` runs journeys outside the workflow sandbox unless LOYALFLOW_WORKFLOW_SANDBOX
is true: a journey then behaves exactly as in the sandboxed workflow tests."""

import gc
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from loyalflow.config import Settings
from loyalflow.runtime.worker import build_worker
from loyalflow.workflows.journey import JourneyWorkflow
from tests.journey_helpers import (
    create_member,
    journey_result,
    messages,
    only_journeys,
    send_event,
    stop_running_journeys,
    wait_for_timer,
)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return only_journeys(settings, tmp_path / "journeys", "welcome")


def runs_of_the_imported_class(member_id: str) -> int:
    """The member's journey runs whose class is the one imported here: a sandboxed run has a
    class of its own, made by re-running the workflow's module in the sandbox. (Other tests'
    unsandboxed runs, simulations', may still be alive in this process: hence the member.)"""
    gc.collect()
    return sum(
        1
        for obj in gc.get_objects()
        if type(obj) is JourneyWorkflow and obj._input.member_id == member_id
    )


@pytest.mark.parametrize("sandbox", [False, True])
async def test_the_welcome_journey_runs_alike_with_and_without_the_sandbox(
    time_skipping_env: WorkflowEnvironment, settings: Settings, member_id: str, sandbox: bool
) -> None:
    client = time_skipping_env.client
    settings = settings.model_copy(update={"workflow_sandbox": sandbox})
    create_member(settings, member_id, email="ada@example.com", first_name="Ada")
    async with build_worker(client, settings, sandbox_journeys=settings.workflow_sandbox):
        assert await send_event(client, settings, member_id, "member.joined")
        workflow_id = f"journey-welcome-{member_id}"
        await wait_for_timer(client, workflow_id)
        # Unsandboxed, the run waiting on its timer is an instance of the module's own class.
        assert (runs_of_the_imported_class(member_id) == 1) is not sandbox
        result = await journey_result(time_skipping_env, workflow_id)
        await stop_running_journeys(client, settings)

    assert result.exit_reason == "completed"
    sent = [(m.template, m.channel) for m in messages(settings, member_id) if m.status == "sent"]
    assert sent == [("welcome", "email"), ("welcome_reminder", "email")]
