"""The send activity against a real SMTP server: a retried send never sends twice."""

import asyncio
import contextlib
import dataclasses
import uuid
from datetime import UTC, datetime

import pytest
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from loyalflow.activities import ledger
from loyalflow.activities.channels import TransientSendError
from loyalflow.activities.channels.email import SmtpEmailChannel
from loyalflow.activities.channels.outbox import OutboxSmsChannel
from loyalflow.activities.decision import decide
from loyalflow.activities.rendering import TemplateRenderer
from loyalflow.activities.send import SendActivities
from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.tables import MessageStatus, Suppression
from loyalflow.models.workflow_io import SendRequest
from loyalflow.rules.messaging import policy_from
from tests.journey_helpers import create_member, messages
from tests.smtp_server import SmtpServer
from tests.worker_helpers import plain_smtp

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def at(now: datetime = NOW, client: Client | None = None) -> ActivityEnvironment:
    """An activity environment whose attempt was scheduled at `now` (the server's clock), with
    `client` as `activity.client()` (an SMS refused with 21610 routes consent events)."""
    env = ActivityEnvironment(client=client)
    env.info = dataclasses.replace(env.info, current_attempt_scheduled_time=now)
    return env


def send_activities(settings: Settings, email_channel: SmtpEmailChannel) -> SendActivities:
    return SendActivities(
        database_url=settings.effective_database_url,
        renderer=TemplateRenderer(settings.templates_dir, "Club Lumière"),
        email_channel=email_channel,
        sms_channel=OutboxSmsChannel(settings.outbox_dir),
        email_from="Club Lumière <club@example.com>",
        policy=policy_from(settings.messaging_policy_file),
        settings=settings,
    )


@pytest.fixture
def sends(settings: Settings, smtp_server: SmtpServer) -> SendActivities:
    return send_activities(settings, plain_smtp(smtp_server))


def request_for(member_id: str) -> SendRequest:
    return SendRequest(
        message_id=str(uuid.uuid4()),
        workflow_id=f"journey-welcome-{member_id}",
        journey_id="welcome",
        step_id="welcome_email",
        member_id=member_id,
        channel="email",
        template="welcome",
        topic="onboarding",
        due_at=NOW,
    )


async def test_delivers_a_multipart_message_with_a_stable_message_id(
    settings: Settings, sends: SendActivities, smtp_server: SmtpServer, member_id: str
) -> None:
    create_member(settings, member_id, email="zoe@example.com", first_name="Zoé", locale="fr")
    request = request_for(member_id)

    result = await at().run(sends.send_message, request)

    assert result.status == "sent"
    [mail] = smtp_server.messages
    # The sender's domain (email_from is club@example.com): a real domain, RFC 5322 form.
    assert mail["Message-ID"] == f"<{request.message_id}@example.com>"
    assert mail["Subject"] == "Bienvenue chez Club Lumière, Zoé !"  # UTF-8 subject survives
    assert mail["To"] == "zoe@example.com"
    assert mail.get_body(("plain",)) is not None and mail.get_body(("html",)) is not None


async def test_a_retry_after_success_sends_nothing_more(
    settings: Settings, sends: SendActivities, smtp_server: SmtpServer, member_id: str
) -> None:
    create_member(settings, member_id, email="ann@example.com")
    request = request_for(member_id)

    first = await at().run(sends.send_message, request)
    again = await at().run(sends.send_message, request)

    assert first == again
    assert len(smtp_server.messages) == 1
    assert [m.status for m in messages(settings, member_id)] == ["sent"]


async def test_a_451_is_retried_then_delivered_once(
    settings: Settings, sends: SendActivities, smtp_server: SmtpServer, member_id: str
) -> None:
    create_member(settings, member_id, email="ben@example.com")
    request = request_for(member_id)
    smtp_server.refuse_next("451 4.3.0 Try again later")

    with pytest.raises(TransientSendError, match="451"):
        await at().run(sends.send_message, request)
    [row] = messages(settings, member_id)
    assert row.status == MessageStatus.DEFERRED and "451" in (row.reason or "")

    result = await at().run(sends.send_message, request)
    assert result.status == "sent"
    assert len(smtp_server.messages) == 1


async def test_a_550_fails_the_message_without_retrying(
    settings: Settings, sends: SendActivities, smtp_server: SmtpServer, member_id: str
) -> None:
    create_member(settings, member_id, email="gone@example.com")
    request = request_for(member_id)
    smtp_server.refuse_next("550 5.1.1 No such user")

    result = await at().run(sends.send_message, request)
    again = await at().run(sends.send_message, request)

    assert result.status == "failed" and "550" in (result.reason or "")
    assert again == result
    assert smtp_server.messages == []
    with session_scope(settings.effective_database_url) as session:
        suppression = session.get(Suppression, ("gone@example.com", "email"))
        assert suppression is not None and suppression.reason == "mailbox does not exist (550)"


async def test_an_attempt_interrupted_mid_call_is_not_repeated(
    settings: Settings, sends: SendActivities, smtp_server: SmtpServer, member_id: str
) -> None:
    """A row left in `sending` means the provider may have the message: never send a second."""
    create_member(settings, member_id, email="cat@example.com")
    request = request_for(member_id)
    ledger.hand_over(settings.effective_database_url, request, locale="en", subject=None)

    result = await at().run(sends.send_message, request)

    assert result.status == "failed" and (result.reason or "").startswith(ledger.INTERRUPTED_PREFIX)
    assert "handed to the email provider at" in (result.reason or "")
    assert smtp_server.messages == []


async def test_with_resend_an_interrupted_attempt_is_sent_again_under_the_same_message_id(
    settings: Settings, smtp_server: SmtpServer, member_id: str
) -> None:
    """LOYALFLOW_INTERRUPTED_SEND=resend prefers a possible duplicate to a loss."""
    resending = settings.model_copy(update={"interrupted_send": "resend"})
    sends = send_activities(resending, plain_smtp(smtp_server))
    create_member(settings, member_id, email="eve@example.com")
    request = request_for(member_id)
    ledger.hand_over(settings.effective_database_url, request, locale="en", subject=None)

    result = await at().run(sends.send_message, request)

    assert result.status == "sent"
    [received] = smtp_server.messages
    assert received["Message-ID"].startswith(f"<{request.message_id}@")
    [row] = messages(settings, member_id)
    # The interrupted attempt's hand-over is kept; the row's own is the attempt that went through.
    assert row.interrupted_at is not None and row.handed_at is not None
    assert row.interrupted_at < row.handed_at
    assert "a duplicate is possible" in (row.reason or "")


async def test_a_send_waiting_for_a_pooled_connection_is_not_handed_over(
    settings: Settings, smtp_server: SmtpServer, member_id: str
) -> None:
    """Cancelled while every pooled connection is busy (a dead worker's attempt), the row is still
    `ready`: the retry sends it, nothing is written off."""
    sends = send_activities(settings, plain_smtp(smtp_server, pool_size=1))
    create_member(settings, member_id, email="fay@example.com")
    request = request_for(member_id)
    smtp_server.handler.data_delays.append(3.0)  # holds the only connection for 3 s
    other = request_for(member_id)

    async def both() -> None:
        blocking = asyncio.create_task(at().run(sends.send_message, other))
        await asyncio.sleep(0.5)
        waiting = asyncio.create_task(at().run(sends.send_message, request))
        await asyncio.sleep(0.5)
        waiting.cancel()  # what the SDK does when the attempt's heartbeat times out
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        await blocking

    await both()
    rows = {row.message_id: row for row in messages(settings, member_id)}
    assert rows[request.message_id].status == "ready"
    assert rows[request.message_id].handed_at is None

    retried = await at().run(sends.send_message, request)

    assert retried.status == "sent"
    assert len(smtp_server.messages) == 2


async def test_an_unreachable_server_is_a_transient_error(
    settings: Settings, member_id: str
) -> None:
    create_member(settings, member_id, email="dan@example.com")
    sends = send_activities(
        settings,
        SmtpEmailChannel(
            host="127.0.0.1", port=1, username=None, password=None, start_tls=False, timeout=5
        ),
    )
    with pytest.raises(TransientSendError, match="unreachable"):
        await at().run(sends.send_message, request_for(member_id))


async def test_an_attempt_that_died_before_the_provider_call_is_sent_on_retry(
    settings: Settings, sends: SendActivities, smtp_server: SmtpServer, member_id: str
) -> None:
    """Decided to send, then cancelled (e.g. while rendering): nothing left, so send it now."""
    create_member(settings, member_id, email="dee@example.com")
    request = request_for(member_id)
    policy = policy_from(settings.messaging_policy_file)
    assert decide(settings.effective_database_url, request, policy, NOW).action == "send"

    result = await at().run(sends.send_message, request)

    assert result.status == "sent"
    assert len(smtp_server.messages) == 1
