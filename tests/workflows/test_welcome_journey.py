"""The welcome journey on Temporal's time-skipping server: the 3-day wait takes milliseconds."""

from collections.abc import AsyncIterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import Message as MimeMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from loyalflow.config import Settings
from loyalflow.runtime.worker import build_worker
from tests.journey_helpers import (
    create_member,
    enrollment,
    journey_result,
    messages,
    only_journeys,
    send_event,
    stop_running_journeys,
    wait_for_messages,
    wait_for_timer,
    zone_where_it_will_be,
)

WORKFLOW = "journey-welcome-{}"
# The journey tests two subject lines: members in variant "b" get this one instead.
WELCOME_SUBJECT_B = {
    "en": "Ada, your first reward starts here",
    "fr": "Ada, votre première récompense commence ici",
}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return only_journeys(settings, tmp_path / "journeys", "welcome")


@pytest.fixture
async def worker(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Worker]:
    # The production worker (real activities, outbox channel) on this test's own task queue.
    async with build_worker(time_skipping_env.client, settings) as running:
        yield running
        await stop_running_journeys(time_skipping_env.client, settings)


def outbox(settings: Settings) -> list[MimeMessage]:
    files = sorted(Path(settings.outbox_dir).glob("*.eml"), key=lambda p: p.stat().st_mtime)
    # The default policy decodes RFC 2047 headers: variant b's French subject is not ASCII.
    return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]


def parts(message: MimeMessage) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()  # type: ignore[union-attr]
        for part in message.walk()
        if not part.is_multipart()
    }


@pytest.mark.parametrize(
    ("locale", "welcome_subject", "reminder_subject"),
    [
        (
            "en",
            "Welcome to Loyalty Program, Ada!",
            "Ada, your Loyalty Program benefits are waiting",
        ),
        (
            "fr",
            "Bienvenue chez Loyalty Program, Ada !",
            "Ada, vos avantages Loyalty Program vous attendent",
        ),
    ],
)
async def test_without_purchase_both_messages_are_sent_three_days_apart(
    time_skipping_env: WorkflowEnvironment,
    settings: Settings,
    worker: Worker,
    member_id: str,
    locale: str,
    welcome_subject: str,
    reminder_subject: str,
) -> None:
    client = time_skipping_env.client
    create_member(settings, member_id, email="ada@example.com", first_name="Ada", locale=locale)
    assert await send_event(client, settings, member_id, "member.joined")

    handle = client.get_workflow_handle(WORKFLOW.format(member_id))
    result = await journey_result(time_skipping_env, handle.id)

    assert result.exit_reason == "completed"
    rows = messages(settings, member_id)
    assert [(m.template, m.channel, m.status, m.reason) for m in rows if m.status == "skipped"] == [
        ("welcome_reminder", "sms", "skipped", "no phone number")  # so it falls back to email
    ]
    sent = [m for m in rows if m.status == "sent"]
    assert sent[0].variant in ("a", "b")
    if sent[0].variant == "b":
        welcome_subject = WELCOME_SUBJECT_B[locale]
    assert [(m.template, m.channel, m.subject) for m in sent] == [
        ("welcome", "email", welcome_subject),
        ("welcome_reminder", "email", reminder_subject),
    ]
    assert sent[1].sent_at is not None and sent[0].sent_at is not None
    assert sent[1].sent_at - sent[0].sent_at >= timedelta(days=3)

    mails = outbox(settings)
    assert [m["Subject"] for m in mails] == [welcome_subject, reminder_subject]
    assert all(m["To"] == "ada@example.com" for m in mails)
    welcome_parts = parts(mails[0])
    assert set(welcome_parts) == {"text/plain", "text/html"}
    assert "Ada" in welcome_parts["text/plain"] and "<html" in welcome_parts["text/html"]

    row = enrollment(settings, handle.id)
    assert row is not None and row.exit_reason == "completed" and row.exited_at is not None


async def test_a_purchase_during_the_wait_ends_the_journey_at_once(
    time_skipping_env: WorkflowEnvironment, settings: Settings, worker: Worker, member_id: str
) -> None:
    client = time_skipping_env.client
    create_member(settings, member_id, email="bob@example.com", first_name="Bob", locale="fr-CA")
    await send_event(client, settings, member_id, "member.joined")
    assert len(await wait_for_messages(settings, member_id, 1)) == 1

    await time_skipping_env.sleep(timedelta(days=1))
    await send_event(client, settings, member_id, "purchase", amount=42.5)

    handle = client.get_workflow_handle(WORKFLOW.format(member_id))
    result = await journey_result(time_skipping_env, handle.id)
    assert result.exit_reason == "exit_when: purchase"
    sent = [m for m in messages(settings, member_id) if m.journey_id == "welcome"]
    assert [(m.template, m.locale) for m in sent] == [("welcome", "fr")]  # fr-CA falls back to fr
    row = enrollment(settings, handle.id)
    assert row is not None and row.exit_reason == "exit_when: purchase"
    # Exited one day in (skipped time), not after the full three-day wait.
    assert row.exited_at is not None and row.exited_at - row.entered_at < timedelta(days=2)


async def test_the_same_join_twice_starts_one_journey_and_sends_once(
    time_skipping_env: WorkflowEnvironment, settings: Settings, worker: Worker, member_id: str
) -> None:
    client = time_skipping_env.client
    create_member(settings, member_id, email="cy@example.com")
    assert await send_event(client, settings, member_id, "member.joined", event_id=f"{member_id}-j")
    assert not await send_event(
        client, settings, member_id, "member.joined", event_id=f"{member_id}-j"
    )
    # A second, different join event: re_entry is `never` for the welcome journey.
    assert await send_event(client, settings, member_id, "member.joined")

    await journey_result(time_skipping_env, WORKFLOW.format(member_id))
    sent = [m.template for m in messages(settings, member_id) if m.status == "sent"]
    assert sent == ["welcome", "welcome_reminder"]
    assert len(outbox(settings)) == 2


async def test_a_member_without_email_is_skipped_with_the_reason(
    time_skipping_env: WorkflowEnvironment, settings: Settings, worker: Worker, member_id: str
) -> None:
    client = time_skipping_env.client
    await send_event(client, settings, member_id, "member.joined")  # creates a bare member

    handle = client.get_workflow_handle(WORKFLOW.format(member_id))
    result = await journey_result(time_skipping_env, handle.id)
    assert [(m.channel, m.status, m.reason) for m in messages(settings, member_id)] == [
        ("email", "skipped", "no email address"),
        ("sms", "skipped", "no phone number"),
        ("email", "skipped", "no email address"),
    ]
    assert [(t.step, t.outcome) for t in result.trail if t.step != "wait_3_days"] == [
        ("subject_line_test", "variant"),
        ("welcome_email", "skipped"),
        ("benefits_reminder", "skipped"),
        ("benefits_reminder", "fallback"),
        ("benefits_reminder", "skipped"),
        ("exit", "completed"),
    ]
    assert outbox(settings) == []


async def test_trail_query_shows_the_waiting_step(
    time_skipping_env: WorkflowEnvironment, settings: Settings, worker: Worker, member_id: str
) -> None:
    client = time_skipping_env.client
    create_member(settings, member_id, email="di@example.com")
    await send_event(client, settings, member_id, "member.joined")
    # The ledger row is marked sent before the workflow hears of it: wait for the timer instead.
    await wait_for_timer(client, WORKFLOW.format(member_id))

    handle = client.get_workflow_handle(WORKFLOW.format(member_id))
    trail = await handle.query("trail")
    assert [(t["step"], t["outcome"]) for t in trail] == [
        ("subject_line_test", "variant"),
        ("welcome_email", "sent"),
        ("wait_3_days", "waiting"),
    ]
    row = enrollment(settings, handle.id)
    assert row is not None and row.current_step == "wait_3_days" and row.exited_at is None
    description = await handle.describe()
    attributes = {
        k.name: v for k, v in ((p.key, p.value) for p in description.typed_search_attributes)
    }
    assert attributes["MemberId"] == member_id
    assert attributes["JourneyId"] == "welcome"
    assert attributes["Step"] == "wait_3_days"
    assert attributes["Variant"] in ("a", "b")
    await handle.terminate("test over")


async def test_an_sms_reminder_due_in_quiet_hours_waits_until_morning(
    time_skipping_env: WorkflowEnvironment, settings: Settings, worker: Worker, member_id: str
) -> None:
    client = time_skipping_env.client
    # The shared test server's clock is ahead of the wall clock by what earlier tests skipped.
    reminder_due = await time_skipping_env.get_current_time() + timedelta(days=3)
    zone = zone_where_it_will_be(23, reminder_due)  # 23:xx local: inside 21:00-08:00
    create_member(settings, member_id, email="eva@example.com", phone="+33612345678", timezone=zone)
    await send_event(client, settings, member_id, "member.joined")
    await send_event(
        client,
        settings,
        member_id,
        "consent.updated",
        channel="sms",
        topic="onboarding",
        status="granted",
        source="signup",
    )

    result = await journey_result(time_skipping_env, WORKFLOW.format(member_id))

    reminder = [(t.outcome, t.detail) for t in result.trail if t.step == "benefits_reminder"]
    assert reminder[0][0] == "deferred" and "quiet hours until" in (reminder[0][1] or "")
    assert reminder[1][0] == "sent"
    [sms] = [m for m in messages(settings, member_id) if m.channel == "sms"]
    assert sms.status == "sent" and sms.sent_at is not None
    local = sms.sent_at.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute) == (8, 0)  # released at the end of quiet hours
    [text] = list(settings.outbox_dir.glob("*.sms.txt"))
    assert "To: +33612345678" in text.read_text() and "Reply STOP" in text.read_text()
