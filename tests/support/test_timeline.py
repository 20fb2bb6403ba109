"""The member timeline and `member explain`, on the time-skipping server with the real worker."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from loyalflow.catalog.registry import get_catalog, publish_versions
from loyalflow.config import Settings
from loyalflow.models.experiments import assign_variant
from loyalflow.models.journey import SplitStep
from loyalflow.models.timeline import Timeline
from loyalflow.models.workflow_io import MemberEvent
from loyalflow.routing.start import start_journey
from loyalflow.runtime.worker import build_worker
from loyalflow.support.explain import explain
from loyalflow.support.timeline import build_timeline, member_timeline
from tests.conftest import unique_member_id
from tests.journey_helpers import (
    create_member,
    journey_result,
    only_journeys,
    send_event,
    stop_running_journeys,
    wait_for_messages,
    wait_for_timer,
)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    chosen = only_journeys(settings, tmp_path / "journeys", "welcome", "reactivation")
    publish_versions(chosen.effective_database_url, get_catalog(chosen))
    return chosen.model_copy(update={"temporal_ui_url": "http://ui.example:8080/"})


@pytest.fixture
async def worker(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Worker]:
    async with build_worker(time_skipping_env.client, settings) as running:
        yield running
        await stop_running_journeys(time_skipping_env.client, settings)


def kinds(timeline: Timeline, kind: str) -> list[str]:
    return [e.summary for e in timeline.entries if e.kind == kind]


async def test_welcome_then_unsubscribe_tells_every_message_sent_and_not_sent(
    time_skipping_env: WorkflowEnvironment, settings: Settings, worker: Worker, member_id: str
) -> None:
    client = time_skipping_env.client
    create_member(settings, member_id, email="ada@example.com", first_name="Ada")
    assert await send_event(client, settings, member_id, "member.joined")
    assert len(await wait_for_messages(settings, member_id, 1)) == 1
    # The member unsubscribes from onboarding email during the 3-day wait.
    assert await send_event(
        client,
        settings,
        member_id,
        "consent.updated",
        channel="email",
        topic="onboarding",
        status="revoked",
        source="unsubscribe_link",
    )
    workflow_id = f"journey-welcome-{member_id}"
    assert (await journey_result(time_skipping_env, workflow_id)).exit_reason == "completed"

    timeline = build_timeline(settings, member_id)
    assert timeline is not None
    assert [e.at for e in timeline.entries] == sorted(e.at for e in timeline.entries)
    assert kinds(timeline, "event") == ["joined the program"]
    assert kinds(timeline, "consent") == [
        "email consent for onboarding revoked (source: unsubscribe_link)"
    ]
    assert kinds(timeline, "journey_entered")[0].startswith("entered journey welcome (entry 1")
    assert kinds(timeline, "journey_entered")[0].endswith("on member.joined")
    steps = [e.step_id for e in timeline.entries if e.kind == "journey_step"]
    assert steps == ["subject_line_test", "welcome_email", "wait_3_days", "benefits_reminder"]
    split = next(e for e in timeline.entries if e.step_id == "subject_line_test")
    assert split.variant in ("a", "b") and f"variant {split.variant}" in split.summary

    sent = [e for e in timeline.entries if e.kind == "message"]
    assert [(e.channel, e.status, e.variant) for e in sent] == [("email", "sent", split.variant)]
    assert sent[0].summary.startswith('email welcome "')
    not_sent = [(e.channel, e.reason) for e in timeline.entries if e.kind == "not_sent"]
    assert not_sent[0] == ("sms", "no phone number")
    assert not_sent[1][0] == "email"
    assert not_sent[1][1] is not None and not_sent[1][1].startswith(
        "no consent: email for onboarding revoked on"
    )
    assert kinds(timeline, "journey_exited") == ["left journey welcome: completed"]
    link = "http://ui.example:8080/namespaces/default/workflows/" + workflow_id
    assert timeline.runs[0].link == link
    assert all(e.link == link for e in timeline.entries if e.workflow_id == workflow_id)
    # (No order is asserted between the consent event and the messages: events carry wall-clock
    # times, sends the workflow's clock, which this shared time-skipping server runs ahead.)

    explained = await explain(settings, member_id, "welcome", client)
    assert explained.state == "finished"
    assert "exited on" in explained.text and ": completed" in explained.text
    assert "will not enter again (re-entry: never)" in explained.text


def holdout_member() -> str:
    journey = get_catalog(Settings(_env_file=None)).journeys["reactivation"]
    split = journey.steps[0]
    assert isinstance(split, SplitStep)
    while True:
        candidate = unique_member_id("H")
        if assign_variant("reactivation.channel", candidate, split.groups) == "holdout":
            return candidate


async def test_reactivation_holdout_is_a_message_not_sent_with_its_reason(
    time_skipping_env: WorkflowEnvironment, settings: Settings, worker: Worker
) -> None:
    client = time_skipping_env.client
    member_id = holdout_member()
    create_member(settings, member_id, email="grace@example.com", timezone="Europe/Paris")
    trigger = MemberEvent(
        event_id=f"sweep-{member_id}", type="segment.matched", occurred_at=datetime.now(UTC)
    )
    journey = get_catalog(settings).journeys["reactivation"]
    workflow_id = await start_journey(client, settings, journey, member_id, trigger)
    assert workflow_id == f"journey-reactivation-{member_id}"
    assert (await journey_result(time_skipping_env, workflow_id)).exit_reason == "holdout"

    timeline = build_timeline(settings, member_id)
    assert timeline is not None
    holdout = [e for e in timeline.entries if e.kind == "not_sent"]
    assert [(e.status, e.variant, e.summary) for e in holdout] == [
        (
            "holdout",
            "holdout",
            "no message: holdout group of reactivation.channel (receives nothing, by design)",
        )
    ]
    assert not [e for e in timeline.entries if e.kind == "message"]
    assert kinds(timeline, "journey_exited") == ["left journey reactivation: holdout"]
    assert timeline.runs[0].variant == "holdout"

    explained = await explain(settings, member_id, "reactivation")
    assert explained.state == "finished"
    assert "the control group of reactivation.channel" in explained.text
    assert "may enter again from" in explained.text  # after_exit with a 180-day cool-down


async def test_explain_a_waiting_member_names_the_deadline_and_next_step(
    time_skipping_env: WorkflowEnvironment, settings: Settings, worker: Worker, member_id: str
) -> None:
    client = time_skipping_env.client
    create_member(settings, member_id, email="ada@example.com", timezone="Europe/Paris")
    assert await send_event(client, settings, member_id, "member.joined")
    workflow_id = f"journey-welcome-{member_id}"
    await wait_for_timer(client, workflow_id)

    explained = await explain(settings, member_id, "welcome", client)
    assert explained.state == "running" and explained.current_step == "wait_3_days"
    assert explained.next_step == "benefits_reminder"
    assert "waiting until " in explained.text and "Europe/Paris" in explained.text
    assert "then step benefits_reminder" in explained.text
    assert "a purchase ends the journey at once" in explained.text
    # The deadline is 3 days after the wait began, in the member's own zone.
    timeline = await member_timeline(settings, member_id, client)
    assert timeline is not None
    wait = next(e for e in timeline.entries if e.step_id == "wait_3_days")
    deadline = (wait.at + timedelta(days=3)).astimezone(ZoneInfo("Europe/Paris"))
    assert f"{deadline:%Y-%m-%d %H:%M} Europe/Paris" in explained.text
    # From the live trail: what the wait waits for.
    assert "step wait_3_days waiting: for 3d" in kinds(timeline, "journey_step")

    # A purchase ends it: explain tells how.
    assert await send_event(client, settings, member_id, "purchase", amount=20)
    assert (await journey_result(time_skipping_env, workflow_id)).exit_reason == (
        "exit_when: purchase"
    )
    finished = await explain(settings, member_id, "welcome")
    assert finished.state == "finished" and ": exit_when: purchase" in finished.text
    assert "reached the goal" in finished.text
    timeline = build_timeline(settings, member_id)
    assert timeline is not None
    assert "purchase of 20 (+20 points)" in kinds(timeline, "points")
    assert kinds(timeline, "goal") == ["reached the goal of journey welcome"]


async def test_explain_never_entered_and_unknown(settings: Settings, member_id: str) -> None:
    create_member(settings, member_id, email="ada@example.com")
    welcome = await explain(settings, member_id, "welcome")
    assert welcome.state == "never_entered"
    assert "starts on a member.joined event, and none has been received" in welcome.text
    reactivation = await explain(settings, member_id, "reactivation")
    assert reactivation.state == "never_entered"
    assert "days_since(member.last_activity_at) >= 90" in reactivation.text
    assert (await explain(settings, "M-nobody", "welcome")).state == "no_such_member"
    assert (await explain(settings, member_id, "nope")).state == "no_such_journey"
    assert build_timeline(settings, "M-nobody") is None
