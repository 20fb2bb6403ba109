"""Custom event types (the shipped events.yaml) in a journey: a trigger, a wait_for with a
condition on a declared property, and an exit rule; real worker, database, skipped time."""

from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from loyalflow.config import Settings
from tests.journey_helpers import (
    create_member,
    journey_result,
    send_event,
    wait_for_timer,
)
from tests.workflows.journey_kit import journey_worker, steps, with_journeys

STORE_TO_REVIEW = """
id: t_custom
name: Ask store visitors for a review
trigger: {event: store.visited}
topic: loyalty
exit_when:
  - {event: cart.abandoned, condition: "event.value > 500"}
steps:
  - id: await_review
    kind: wait_for
    event: review.posted
    condition: event.rating >= 4
    timeout: 7d
    on_event: thank
    on_timeout: end
  - {id: thank, kind: update, add_tag: happy_reviewer}
"""


async def test_a_custom_event_starts_a_journey_and_satisfies_its_wait_for(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, member_id: str
) -> None:
    settings = with_journeys(settings, tmp_path / "journeys", STORE_TO_REVIEW)
    create_member(settings, member_id, email="rae@example.com")
    workflow_id = f"journey-t_custom-{member_id}"
    client = time_skipping_env.client
    async with journey_worker(client, settings):
        await send_event(client, settings, member_id, "store.visited", store_id="S-1")
        await wait_for_timer(client, workflow_id)
        await send_event(client, settings, member_id, "review.posted", rating=2, product_id="P")
        await send_event(client, settings, member_id, "review.posted", rating=5, product_id="P")
        result = await journey_result(time_skipping_env, workflow_id)

    assert ("await_review", "event") in steps(result)
    assert steps(result)[-2:] == [("thank", "updated"), ("exit", "completed")]


async def test_a_custom_event_ends_a_journey_by_its_exit_rule(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, member_id: str
) -> None:
    settings = with_journeys(settings, tmp_path / "journeys", STORE_TO_REVIEW)
    create_member(settings, member_id, email="sam@example.com")
    workflow_id = f"journey-t_custom-{member_id}"
    client = time_skipping_env.client
    async with journey_worker(client, settings):
        await send_event(client, settings, member_id, "store.visited", store_id="S-2")
        await wait_for_timer(client, workflow_id)
        await send_event(client, settings, member_id, "cart.abandoned", value=20)
        await send_event(client, settings, member_id, "cart.abandoned", value=900)
        result = await journey_result(time_skipping_env, workflow_id)

    assert ("thank", "updated") not in steps(result)
    assert result.exit_reason == "exit_when: cart.abandoned"
