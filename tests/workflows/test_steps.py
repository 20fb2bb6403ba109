"""Each journey step kind end to end: real worker, real activities, real database, skipped time.

Journeys here are written by the tests (a directory of their own), started by routing events the
way the API does. Waits in this file are whole days, so the shared time-skipping clock keeps its
time of day; waits until a local time of day run in test_waits.py on a server of their own.
"""

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import func, select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from loyalflow.activities.channels.sms import TwilioSmsChannel
from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.experiments import assign_variant
from loyalflow.models.tables import Event, ExperimentAssignment, Member
from loyalflow.models.workflow_io import ExitRequest, JourneyResult, MemberEvent
from loyalflow.routing.router import route_events
from loyalflow.workflows.journey import JourneyWorkflow
from tests.journey_helpers import (
    create_member,
    enrollment,
    journey_result,
    messages,
    send_event,
    wait_for_timer,
)
from tests.prism import PrismHttpClient
from tests.workflows.journey_kit import journey_worker, start_directly, steps, with_journeys

HEAD = """
name: test journey
trigger: {event: visit}
topic: loyalty
"""


def definition(journey_id: str, body: str) -> str:
    return f"id: {journey_id}\n{HEAD}{body}"


def member(settings: Settings, member_id: str) -> Member:
    with session_scope(settings.effective_database_url) as session:
        row = session.get(Member, member_id)
        assert row is not None
        session.expunge(row)
        return row


async def visit(env: WorkflowEnvironment, settings: Settings, member_id: str, **kw: Any) -> None:
    assert await send_event(env.client, settings, member_id, "visit", **kw)


# --- send, fallback, wait (duration) ------------------------------------------------------------

SEND_WAIT_SEND = definition(
    "t_send",
    """
steps:
  - {id: nudge, kind: send, channel: sms, fallback: email, template: reactivation_nudge}
  - {id: pause, kind: wait, duration: 2d}
  - {id: again, kind: send, channel: email, template: reactivation_nudge}
""",
)


async def test_send_falls_back_to_email_then_a_two_day_wait_then_send(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, member_id: str
) -> None:
    settings = with_journeys(settings, tmp_path / "journeys", SEND_WAIT_SEND)
    create_member(settings, member_id, email="ann@example.com", first_name="Ann")
    async with journey_worker(time_skipping_env.client, settings):
        await visit(time_skipping_env, settings, member_id)
        result = await journey_result(time_skipping_env, f"journey-t_send-{member_id}")

    assert result.exit_reason == "completed"
    assert steps(result) == [
        ("nudge", "skipped"),
        ("nudge", "fallback"),
        ("nudge", "sent"),
        ("pause", "waiting"),
        ("pause", "waited"),
        ("again", "sent"),
        ("exit", "completed"),
    ]
    rows = messages(settings, member_id)
    assert [(m.step_id, m.channel, m.status, m.reason) for m in rows if m.status != "sent"] == [
        ("nudge", "sms", "skipped", "no phone number")
    ]
    sent = [m for m in rows if m.status == "sent"]
    assert [(m.step_id, m.channel) for m in sent] == [("nudge", "email"), ("again", "email")]
    assert sent[0].sent_at is not None and sent[1].sent_at is not None
    gap = sent[1].sent_at - sent[0].sent_at
    assert timedelta(days=2) <= gap < timedelta(days=2, minutes=5)


# --- wait_for ------------------------------------------------------------------------------------

WAIT_FOR = definition(
    "t_wait_for",
    """
steps:
  - id: big_purchase
    kind: wait_for
    event: purchase
    condition: event.amount >= 50
    timeout: 14d
    on_event: thank
    on_timeout: nudge
  - {id: thank, kind: update, add_tag: big_spender, next: end}
  - {id: nudge, kind: update, add_tag: nudged}
""",
)


async def test_wait_for_takes_the_event_branch_when_a_matching_event_arrives(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, member_id: str
) -> None:
    settings = with_journeys(settings, tmp_path / "journeys", WAIT_FOR)
    create_member(settings, member_id, email="bo@example.com")
    workflow_id = f"journey-t_wait_for-{member_id}"
    client = time_skipping_env.client
    async with journey_worker(client, settings):
        await visit(time_skipping_env, settings, member_id)
        await wait_for_timer(client, workflow_id)
        await send_event(
            client, settings, member_id, "purchase", event_id=f"{member_id}-s", amount=10
        )
        await send_event(
            client, settings, member_id, "purchase", event_id=f"{member_id}-b", amount=80
        )
        result = await journey_result(time_skipping_env, workflow_id)

    trail = [(t.step, t.outcome, t.detail) for t in result.trail]
    assert ("big_purchase", "event", f"purchase {member_id}-b") in trail  # not the small one
    assert steps(result)[-2:] == [("thank", "updated"), ("exit", "completed")]
    assert member(settings, member_id).attributes["tags"] == ["big_spender"]
    row = enrollment(settings, workflow_id)
    assert row is not None and row.exited_at is not None
    assert row.exited_at - row.entered_at < timedelta(days=1)


async def test_wait_for_takes_the_timeout_branch_after_the_timeout(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, member_id: str
) -> None:
    settings = with_journeys(settings, tmp_path / "journeys", WAIT_FOR)
    create_member(settings, member_id, email="cyd@example.com")
    workflow_id = f"journey-t_wait_for-{member_id}"
    client = time_skipping_env.client
    async with journey_worker(client, settings):
        await visit(time_skipping_env, settings, member_id)
        await wait_for_timer(client, workflow_id)
        await send_event(client, settings, member_id, "purchase", amount=20)  # below the bar
        result = await journey_result(time_skipping_env, workflow_id)

    assert ("big_purchase", "timed out") in steps(result)
    assert steps(result)[-2:] == [("nudge", "updated"), ("exit", "completed")]
    assert member(settings, member_id).attributes["tags"] == ["nudged"]
    row = enrollment(settings, workflow_id)
    assert row is not None and row.exited_at is not None
    assert row.exited_at - row.entered_at >= timedelta(days=14)


SEND_THEN_WAIT_FOR = definition(
    "t_send_wait_for",
    """
steps:
  - {id: thanks, kind: send, channel: email, template: welcome}
  - {id: bought_again, kind: wait_for, event: purchase, timeout: 14d, on_event: end}
  - {id: nudge, kind: update, add_tag: nudged}
""",
)


async def test_wait_for_counts_an_event_that_arrived_during_the_step_before(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, member_id: str
) -> None:
    # A purchase made while the thanks email was still being sent is a purchase all the same.
    settings = with_journeys(settings, tmp_path / "journeys", SEND_THEN_WAIT_FOR)
    create_member(settings, member_id, email="eli@example.com")
    handle = await start_directly(time_skipping_env, settings, SEND_THEN_WAIT_FOR, member_id)
    now = await time_skipping_env.get_current_time()
    # No worker yet: the run's first activation holds its start and this event together.
    await handle.signal(
        JourneyWorkflow.member_event,
        MemberEvent(event_id=f"{member_id}-p", type="purchase", occurred_at=now),
    )
    async with journey_worker(time_skipping_env.client, settings):
        result = await handle.result()

    assert steps(result) == [
        ("thanks", "sent"),
        ("bought_again", "waiting"),
        ("bought_again", "event"),
        ("exit", "completed"),
    ]
    assert result.trail[-1].at - result.trail[0].at < timedelta(hours=1)


# --- branch, exit step ---------------------------------------------------------------------------

BRANCH = definition(
    "t_branch",
    """
steps:
  - id: route
    kind: branch
    branches:
      - {when: "member.attributes.vip == true", next: vip}
      - {when: "member.points >= 100", next: rich}
    default: plain
  - {id: vip, kind: exit, reason: vip path}
  - {id: rich, kind: exit, reason: rich path}
  - {id: plain, kind: exit, reason: plain path}
""",
)


@pytest.mark.parametrize(
    ("attributes", "points", "reason"),
    [
        ({"vip": True}, 500, "vip path"),  # the first condition that holds wins
        ({"vip": False}, 150, "rich path"),
        ({}, 0, "plain path"),
    ],
)
async def test_branch_follows_the_first_condition_that_holds_else_the_default(
    time_skipping_env: WorkflowEnvironment,
    settings: Settings,
    tmp_path: Path,
    member_id: str,
    attributes: dict[str, Any],
    points: int,
    reason: str,
) -> None:
    settings = with_journeys(settings, tmp_path / "journeys", BRANCH)
    create_member(settings, member_id, attributes=attributes)
    client = time_skipping_env.client
    if points:
        await send_event(client, settings, member_id, "points.adjusted", points=points)
    workflow_id = f"journey-t_branch-{member_id}"
    async with journey_worker(client, settings):
        await visit(time_skipping_env, settings, member_id)
        result = await journey_result(time_skipping_env, workflow_id)

    assert result.exit_reason == reason  # the exit step's own reason
    assert steps(result) == [("route", "branch"), (reason.split()[0], "exit"), ("exit", reason)]
    row = enrollment(settings, workflow_id)
    assert row is not None and row.exit_reason == reason and row.exited_at is not None


# --- split -------------------------------------------------------------------------------------

SPLIT = definition(
    "t_split",
    """
re_entry: always
steps:
  - id: test
    kind: split
    experiment: t_split.channel
    variants:
      - {name: red, weight: 45, next: red}
      - {name: blue, weight: 45, next: blue}
    holdout: 10
  - {id: red, kind: exit, reason: red}
  - {id: blue, kind: exit, reason: blue}
""",
)
GROUPS = (("red", 45), ("blue", 45), ("holdout", 10))


def member_in(group: str) -> str:
    """A fresh member id that the hash puts in `group`."""
    while True:
        candidate = f"M-{uuid.uuid4().hex[:10]}"
        if assign_variant("t_split.channel", candidate, GROUPS) == group:
            return candidate


def assignment(settings: Settings, member_id: str) -> str | None:
    with session_scope(settings.effective_database_url) as session:
        row = session.get(ExperimentAssignment, ("t_split.channel", member_id))
        return row.variant if row else None


@pytest.mark.parametrize("group", ["red", "blue", "holdout"])
async def test_split_records_the_hashed_variant_everywhere_and_keeps_it_on_re_entry(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, group: str
) -> None:
    settings = with_journeys(settings, tmp_path / "journeys", SPLIT)
    member_id = member_in(group)
    create_member(settings, member_id)
    client = time_skipping_env.client
    first, second = f"journey-t_split-{member_id}", f"journey-t_split-{member_id}#2"
    async with journey_worker(client, settings):
        await visit(time_skipping_env, settings, member_id)
        result = await journey_result(time_skipping_env, first)
        await visit(time_skipping_env, settings, member_id)  # re_entry: always
        again = await journey_result(time_skipping_env, second)
        described = await client.get_workflow_handle(first).describe()

    assert result.exit_reason == again.exit_reason == group  # holdout exits with "holdout"
    assert ("test", "variant") in steps(result)
    assert assignment(settings, member_id) == group
    for workflow_id in (first, second):
        row = enrollment(settings, workflow_id)
        assert row is not None and row.variant == group and row.exit_reason == group
    attributes = {p.key.name: p.value for p in described.typed_search_attributes}
    assert attributes["Variant"] == group


async def test_a_recorded_assignment_wins_over_the_hash(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    """A retried or re-entered split reads the group recorded first (e.g. before a reweighting)."""
    settings = with_journeys(settings, tmp_path / "journeys", SPLIT)
    member_id = member_in("red")
    create_member(settings, member_id)
    with session_scope(settings.effective_database_url) as session:
        session.add(
            ExperimentAssignment(experiment="t_split.channel", member_id=member_id, variant="blue")
        )
    async with journey_worker(time_skipping_env.client, settings):
        await visit(time_skipping_env, settings, member_id)
        result = await journey_result(time_skipping_env, f"journey-t_split-{member_id}")
    assert result.exit_reason == "blue"
    assert assignment(settings, member_id) == "blue"


# --- update ------------------------------------------------------------------------------------

UPDATE = definition(
    "t_update",
    """
steps:
  - id: reward
    kind: update
    award_points: 25
    set: {segment_label: engaged, score: 7}
    add_tag: rewarded
""",
)


async def test_update_awards_points_once_even_when_the_activity_is_retried(
    time_skipping_env: WorkflowEnvironment,
    settings: Settings,
    tmp_path: Path,
    member_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = with_journeys(settings, tmp_path / "journeys", UPDATE)
    create_member(settings, member_id, attributes={"tags": ["early"], "kept": 1})
    # The first attempt stores its events, then dies before routing them: the retry stores
    # them again under the same ids (decided in the workflow), which changes nothing.
    attempts = 0

    async def route_then_crash_once(*args: Any) -> bool:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("worker lost its connection after storing the award")
        return await route_events(*args)

    monkeypatch.setattr("loyalflow.activities.journey_steps.route_events", route_then_crash_once)
    async with journey_worker(time_skipping_env.client, settings):
        await visit(time_skipping_env, settings, member_id)
        result = await journey_result(time_skipping_env, f"journey-t_update-{member_id}")

    assert attempts == 2
    assert steps(result) == [("reward", "updated"), ("exit", "completed")]
    row = member(settings, member_id)
    assert row.points == 25
    assert row.attributes == {
        "tags": ["early", "rewarded"],
        "kept": 1,
        "segment_label": "engaged",
        "score": 7,
    }
    with session_scope(settings.effective_database_url) as session:
        awards = session.exec(
            select(func.count()).where(
                Event.member_id == member_id, Event.type == "points.adjusted"
            )
        ).one()
    assert awards == 1


# --- exits mid-wait, goal ----------------------------------------------------------------------

LONG_WAIT = definition(
    "t_long_wait",
    """
exit_when:
  - {event: purchase, condition: "event.amount >= 20"}
goal: {event: purchase, within: 2d}
steps:
  - {id: a_month, kind: wait, duration: 30d}
  - {id: after, kind: update, add_tag: waited_a_month}
""",
)


async def test_an_exit_when_event_ends_a_30_day_wait_at_once(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, member_id: str
) -> None:
    settings = with_journeys(settings, tmp_path / "journeys", LONG_WAIT)
    create_member(settings, member_id)
    client = time_skipping_env.client
    workflow_id = f"journey-t_long_wait-{member_id}"
    async with journey_worker(client, settings):
        await visit(time_skipping_env, settings, member_id)
        await wait_for_timer(client, workflow_id)
        await time_skipping_env.sleep(timedelta(days=5))
        now = await time_skipping_env.get_current_time()  # the journey's clock, not the wall's
        await send_event(client, settings, member_id, "purchase", occurred_at=now, amount=5)
        await send_event(client, settings, member_id, "purchase", occurred_at=now, amount=30)
        result = await journey_result(time_skipping_env, workflow_id)

    assert result.exit_reason == "exit_when: purchase"
    assert ("after", "updated") not in steps(result)
    row = enrollment(settings, workflow_id)
    assert row is not None and row.exit_reason == "exit_when: purchase"
    assert row.exited_at is not None
    assert timedelta(days=5) <= row.exited_at - row.entered_at < timedelta(days=6)
    assert row.converted_at is None  # outside the 2-day goal window
    assert "tags" not in member(settings, member_id).attributes


async def test_the_exit_update_ends_a_wait_with_who_and_why(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, member_id: str
) -> None:
    settings = with_journeys(settings, tmp_path / "journeys", LONG_WAIT)
    create_member(settings, member_id)
    client = time_skipping_env.client
    workflow_id = f"journey-t_long_wait-{member_id}"
    async with journey_worker(client, settings):
        await visit(time_skipping_env, settings, member_id)
        await wait_for_timer(client, workflow_id)
        handle = client.get_workflow_handle(workflow_id, result_type=JourneyResult)
        answer = await handle.execute_update(
            "exit", ExitRequest(reason="member asked by phone", by="support:ann"), result_type=str
        )
        result = await handle.result()

    expected = "exited by support:ann: member asked by phone"
    assert answer == result.exit_reason == expected
    assert steps(result)[-2:] == [("exit", "requested"), ("exit", expected)]
    row = enrollment(settings, workflow_id)
    assert row is not None and row.exit_reason == expected
    assert row.exited_at is not None and row.exited_at - row.entered_at < timedelta(days=1)


async def test_a_goal_event_within_the_window_is_recorded_and_the_journey_goes_on(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, member_id: str
) -> None:
    settings = with_journeys(settings, tmp_path / "journeys", LONG_WAIT)
    create_member(settings, member_id)
    client = time_skipping_env.client
    workflow_id = f"journey-t_long_wait-{member_id}"
    async with journey_worker(client, settings):
        await visit(time_skipping_env, settings, member_id)
        await wait_for_timer(client, workflow_id)
        await time_skipping_env.sleep(timedelta(days=1))
        now = await time_skipping_env.get_current_time()
        goal_id = f"{member_id}-small"
        # Any purchase converts (the goal has no condition); a small one does not exit.
        await send_event(
            client, settings, member_id, "purchase", event_id=goal_id, occurred_at=now, amount=5
        )
        result = await journey_result(time_skipping_env, workflow_id)

    assert result.exit_reason == "completed"  # waited the whole month
    assert ("goal", "converted") in steps(result)
    row = enrollment(settings, workflow_id)
    assert row is not None and row.goal_event_id == goal_id
    assert row.converted_at is not None
    assert timedelta(days=1) <= row.converted_at - row.entered_at < timedelta(days=2)


# --- continue-as-new ---------------------------------------------------------------------------

LOOP = definition(
    "t_loop",
    """
steps:
  - id: cohort
    kind: split
    variants: [{name: only, weight: 100}]
  - {id: pause, kind: wait, duration: 1d}
  - id: check
    kind: branch
    branches: [{when: "member.points > 0", next: remind}]
    default: done
  - {id: remind, kind: send, channel: email, template: reactivation_nudge}
  - {id: spend, kind: update, award_points: -50, next: pause}
  - {id: done, kind: exit, reason: no points left}
""",
)


async def test_a_looping_journey_continues_as_new_carrying_its_state(
    time_skipping_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, member_id: str
) -> None:
    settings = with_journeys(settings, tmp_path / "journeys", LOOP)
    create_member(settings, member_id, email="lou@example.com")
    client = time_skipping_env.client
    await send_event(client, settings, member_id, "points.adjusted", points=100)
    async with journey_worker(client, settings):
        handle = await start_directly(
            time_skipping_env, settings, LOOP, member_id, max_steps_per_run=3
        )
        result = await handle.result()

    # cohort pause check | remind spend pause | check remind spend | pause check done
    assert result.exit_reason == "no points left"
    assert [s for s, o in steps(result) if o not in ("waiting", "continued")] == [
        "cohort", "pause", "check", "remind", "spend", "pause", "check", "remind", "spend",
        "pause", "check", "done", "exit",
    ]  # fmt: skip
    continued = [t.detail for t in result.trail if t.outcome == "continued"]
    assert continued == [f"as run {n}, history kept small" for n in (2, 3, 4)]

    runs = [handle.result_run_id or handle.first_execution_run_id]
    while True:
        history = await client.get_workflow_handle(handle.id, run_id=runs[-1]).fetch_history()
        last = history.events[-1]
        if not last.HasField("workflow_execution_continued_as_new_event_attributes"):
            break
        runs.append(last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id)
    assert len(runs) == 4
    final = await client.get_workflow_handle(handle.id, run_id=runs[-1]).describe()
    assert final.status == WorkflowExecutionStatus.COMPLETED

    sent = [m for m in messages(settings, member_id) if m.status == "sent"]
    assert [(m.step_id, m.variant) for m in sent] == [("remind", "only")] * 2  # run 2 and run 3
    assert member(settings, member_id).points == 0
    row = enrollment(settings, handle.id)
    assert row is not None and row.variant == "only" and row.exit_reason == "no points left"


# --- sends that the provider refuses, journey quiet hours -------------------------------------

FALLBACK_ON_REFUSAL = definition(
    "t_refused",
    """
quiet_hours:
  sms: {start: "00:00", end: "00:00"}   # never quiet: replaces the program's 21:00-08:00
steps:
  - {id: nudge, kind: send, channel: sms, fallback: email, template: reactivation_nudge}
  - {id: then, kind: update, add_tag: nudged}
""",
)


@pytest.mark.parametrize(("example", "code"), [("invalid_to", 21211), ("unsubscribed", 21610)])
async def test_a_permanent_sms_refusal_falls_back_to_email_and_the_journey_goes_on(
    time_skipping_env: WorkflowEnvironment,
    settings: Settings,
    tmp_path: Path,
    member_id: str,
    prism_url: str,
    example: str,
    code: int,
) -> None:
    settings = with_journeys(settings, tmp_path / "journeys", FALLBACK_ON_REFUSAL)
    # Whatever the hour: this journey's own quiet hours never hold an SMS back.
    phone = f"+3361234{uuid.uuid4().int % 10_000:04d}"  # a refused number is suppressed for good
    create_member(settings, member_id, email="em@example.com", phone=phone)
    client = time_skipping_env.client
    await send_event(
        client,
        settings,
        member_id,
        "consent.updated",
        channel="sms",
        topic="loyalty",
        status="granted",
        source="signup",
    )
    prism = PrismHttpClient()
    prism.prefer = f"code=400, example={example}"
    sms = TwilioSmsChannel(
        account_sid="AC" + "0123456789abcdef" * 2,
        auth_token="test-auth-token",
        from_number="+15557654321",
        api_base_url=prism_url,
        http_client=prism,
    )
    try:
        async with journey_worker(client, settings, sms=sms):
            await visit(time_skipping_env, settings, member_id)
            result = await journey_result(time_skipping_env, f"journey-t_refused-{member_id}")
    finally:
        await sms.aclose()
        await prism.close()

    assert steps(result) == [
        ("nudge", "failed"),
        ("nudge", "fallback"),
        ("nudge", "sent"),
        ("then", "updated"),
        ("exit", "completed"),
    ]
    rows = messages(settings, member_id)
    assert [(m.channel, m.status) for m in rows] == [("sms", "failed"), ("email", "sent")]
    assert str(code) in (rows[0].reason or "")
    assert member(settings, member_id).attributes["tags"] == ["nudged"]
