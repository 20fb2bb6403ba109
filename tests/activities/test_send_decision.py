"""The send decision on a real database: consent, suppression, quiet hours, caps, expiry."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

import pytest
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from loyalflow.activities.channels import TransientSendError
from loyalflow.activities.channels.outbox import OutboxEmailChannel
from loyalflow.activities.channels.sms import TwilioSmsChannel
from loyalflow.activities.decision import decide
from loyalflow.activities.rendering import TemplateRenderer
from loyalflow.activities.send import SendActivities
from loyalflow.config import Settings
from loyalflow.members.consent import SMS_START, TWILIO_OPTED_OUT, sms_opt_in, suppress
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Consent, MessageStatus, Suppression
from loyalflow.models.workflow_io import SendRequest
from loyalflow.rules.messaging import MessagingPolicy, policy_from
from tests.activities.test_send import at
from tests.api.test_unsubscribe import consent_events
from tests.conftest import unique_member_id
from tests.journey_helpers import create_member, messages
from tests.members.test_state import event, ingest, rules

if TYPE_CHECKING:
    from tests.prism import PrismHttpClient, PrismProxy

pytestmark = [
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]
NOON = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def policy(settings: Settings) -> MessagingPolicy:
    return policy_from(settings.messaging_policy_file)  # the shipped defaults


def request(
    member_id: str,
    channel: Literal["email", "sms"] = "email",
    topic: str = "onboarding",
    due: datetime = NOON,
) -> SendRequest:
    return SendRequest(
        message_id=str(uuid.uuid4()),
        workflow_id=f"journey-test-{member_id}",
        journey_id="test",
        step_id="step",
        member_id=member_id,
        channel=channel,
        template="welcome_reminder",
        topic=topic,
        due_at=due,
    )


def consent(settings: Settings, member_id: str, channel: str, topic: str, status: str) -> None:
    props = {"channel": channel, "topic": topic, "status": status, "source": "test"}
    ingest(
        settings, rules(), event(member_id, "consent.updated", at=NOON - timedelta(days=1), **props)
    )


def test_explicit_opt_in_topics_need_a_granted_consent(
    settings: Settings, policy: MessagingPolicy, member_id: str
) -> None:
    url = settings.effective_database_url
    create_member(settings, member_id, email="a@example.com")
    refused = decide(url, request(member_id, topic="offers"), policy, NOON)
    assert (refused.action, refused.fallback_ok) == ("skip", True)
    assert refused.reason == "no consent: email for offers was never granted"

    consent(settings, member_id, "email", "offers", "granted")
    assert decide(url, request(member_id, topic="offers"), policy, NOON).action == "send"


def test_soft_opt_in_topics_stop_once_revoked(
    settings: Settings, policy: MessagingPolicy, member_id: str
) -> None:
    url = settings.effective_database_url
    create_member(settings, member_id, email="b@example.com")
    assert decide(url, request(member_id), policy, NOON).action == "send"
    consent(settings, member_id, "email", "onboarding", "revoked")
    refused = decide(url, request(member_id), policy, NOON)
    assert refused.reason == "no consent: email for onboarding revoked on 2026-06-14 (test)"


def test_a_suppressed_address_is_never_contacted(
    settings: Settings, policy: MessagingPolicy, member_id: str
) -> None:
    url = settings.effective_database_url
    create_member(settings, member_id, email="Bounce@Example.com")
    suppress(url, "bounce@example.com", "email", "mailbox does not exist (550)")
    refused = decide(url, request(member_id), policy, NOON)
    assert refused.reason == "suppressed: mailbox does not exist (550)"
    [row] = messages(settings, member_id)
    assert (row.status, row.reason) == ("skipped", refused.reason)  # support sees why


def test_quiet_hours_follow_the_members_clock_across_a_dst_change(
    settings: Settings, policy: MessagingPolicy, member_id: str
) -> None:
    url = settings.effective_database_url
    create_member(settings, member_id, phone="+33612345678", timezone="Europe/Paris")
    consent(settings, member_id, "sms", "onboarding", "granted")
    # 23:30 in Paris on the night clocks go forward: 08:00 next morning is 06:00 UTC, not 07:00.
    night = datetime(2026, 3, 28, 22, 30, tzinfo=UTC)
    waiting = decide(url, request(member_id, "sms", due=night), policy, night)
    assert waiting.action == "defer"
    assert waiting.retry_at == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    assert waiting.reason == "quiet hours until 2026-03-29 08:00 Europe/Paris"
    # And on the night they go back, 08:00 is 07:00 UTC.
    autumn = datetime(2026, 10, 24, 21, 30, tzinfo=UTC)
    later = decide(url, request(member_id, "sms", due=autumn), policy, autumn)
    assert later.retry_at == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)


def test_a_full_cap_defers_until_a_slot_frees_then_expires(
    settings: Settings, policy: MessagingPolicy, member_id: str
) -> None:
    url = settings.effective_database_url
    create_member(settings, member_id, email="c@example.com")
    # Three emails sent over the last days fill the default cap (3 per 7 days).
    for days_ago in (6, 4, 1):
        sent_at = NOON - timedelta(days=days_ago)
        assert decide(url, request(member_id, due=sent_at), policy, sent_at).action == "send"

    held = decide(url, request(member_id), policy, NOON)
    assert held.action == "defer"
    assert held.retry_at == NOON + timedelta(days=1)  # the one sent 6 days ago leaves the window
    assert held.reason is not None and held.reason.startswith("frequency cap: at most 3 email")

    stale = decide(url, request(member_id, due=NOON - timedelta(days=2, hours=12)), policy, NOON)
    assert stale.action == "skip"  # would leave more than 3 days after it was due
    assert stale.reason is not None and stale.reason.endswith("would be more than 3 days late")


@pytest.fixture
async def sms_sends(
    settings: Settings, prism_proxy: "PrismProxy", prism_http_client: "PrismHttpClient"
) -> AsyncIterator[tuple[SendActivities, "PrismHttpClient"]]:
    channel = TwilioSmsChannel(
        account_sid="AC" + "0123456789abcdef" * 2,
        auth_token="test-auth-token",
        from_number="+15557654321",
        api_base_url=prism_proxy.url,  # Prism, through a proxy that counts what reaches it
        http_client=prism_http_client,
    )
    yield (
        SendActivities(
            database_url=settings.effective_database_url,
            renderer=TemplateRenderer(settings.templates_dir, "Club"),
            email_channel=OutboxEmailChannel(settings.outbox_dir),
            sms_channel=channel,
            email_from="club@example.com",
            policy=policy_from(settings.messaging_policy_file),
            settings=settings,
        ),
        prism_http_client,
    )
    await channel.aclose()


async def test_an_sms_goes_out_through_twilio_and_a_stop_reply_suppresses_the_number(
    settings: Settings,
    sms_sends: tuple[SendActivities, "PrismHttpClient"],
    dev_server_env: WorkflowEnvironment,
    member_id: str,
) -> None:
    sends, prism = sms_sends
    create_member(settings, member_id, phone="+16502530000", first_name="Ada")
    consent(settings, member_id, "sms", "onboarding", "granted")

    sent = await at().run(sends.send_message, request(member_id, "sms"))
    assert sent.status == "sent" and (sent.provider_id or "").startswith("SM")

    prism.prefer = "code=400, example=unsubscribed"  # Twilio 21610: the number replied STOP
    failed = await at(client=dev_server_env.client).run(
        sends.send_message, request(member_id, "sms")
    )
    assert failed.status == "failed" and "21610" in (failed.reason or "")
    with session_scope(settings.effective_database_url) as session:
        suppression = session.get(Suppression, ("+16502530000", "sms"))
        assert suppression is not None and "STOP" in suppression.reason

    prism.prefer = None
    after = await at().run(sends.send_message, request(member_id, "sms"))
    assert after.status == "skipped" and (after.reason or "").startswith("suppressed")
    assert [m.status for m in messages(settings, member_id)] == [
        MessageStatus.SENT,
        MessageStatus.FAILED,
        MessageStatus.SKIPPED,
    ]


def consents_of(settings: Settings, member_id: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(channel, topic) -> (status, source): the member's consent as the send decision reads it."""
    with session_scope(settings.effective_database_url) as session:
        rows = session.exec(select(Consent).where(Consent.member_id == member_id))
        return {(c.channel, c.topic): (c.status, c.source or "") for c in rows}


async def test_a_21610_refusal_revokes_sms_consent_like_a_stop_reply(
    settings: Settings,
    sms_sends: tuple[SendActivities, "PrismHttpClient"],
    dev_server_env: WorkflowEnvironment,
    member_id: str,
) -> None:
    """Twilio refusing a send with 21610 means the number texted STOP to our sender, a STOP we
    never received: the same opt-out as the keyword, for every member with the number."""
    sends, prism = sms_sends
    temporal = dev_server_env.client
    phone = "+16502530002"
    sibling = unique_member_id()  # a family sharing one phone number
    create_member(settings, member_id, phone=phone, email="ada@example.com")
    create_member(settings, sibling, phone=phone)
    consent(settings, member_id, "sms", "onboarding", "granted")
    consent(settings, member_id, "sms", "offers", "granted")
    consent(settings, member_id, "sms", "loyalty", "revoked")  # the member's own choice
    consent(settings, member_id, "email", "offers", "granted")
    consent(settings, sibling, "sms", "offers", "granted")
    refused = request(member_id, "sms")

    prism.prefer = "code=400, example=unsubscribed"
    failed = await at(client=temporal).run(sends.send_message, refused)
    retried = await at(client=temporal).run(sends.send_message, refused)

    assert failed.status == "failed"
    assert failed.reason == (
        "Twilio 400 (error 21610): recipient unsubscribed (replied STOP): "
        "Unable to create record: Attempt to send to unsubscribed recipient"
    )
    assert retried == failed  # the earlier outcome; nothing is sent or recorded again
    with session_scope(settings.effective_database_url) as session:
        suppression = session.get(Suppression, (phone, "sms"))
        assert suppression is not None
        assert suppression.reason == "twilio-21610: recipient replied STOP (21610)"
    assert consents_of(settings, member_id) == {
        ("sms", "onboarding"): ("revoked", TWILIO_OPTED_OUT),
        ("sms", "offers"): ("revoked", TWILIO_OPTED_OUT),
        ("sms", "loyalty"): ("revoked", "test"),  # already revoked: left as the member set it
        ("email", "offers"): ("granted", "test"),  # another channel
    }
    assert consents_of(settings, sibling) == {("sms", "offers"): ("revoked", TWILIO_OPTED_OUT)}
    # As `consent.updated` events, like every consent change: one per topic revoked.
    assert len(consent_events(settings, member_id, TWILIO_OPTED_OUT)) == 2
    assert len(consent_events(settings, sibling, TWILIO_OPTED_OUT)) == 1

    # A START from the number undoes exactly that, as it undoes a STOP, and SMS flows again.
    await sms_opt_in(temporal, settings, phone, key="sms|SM-start")
    assert consents_of(settings, member_id) == {
        ("sms", "onboarding"): ("granted", SMS_START),
        ("sms", "offers"): ("granted", SMS_START),
        ("sms", "loyalty"): ("revoked", "test"),
        ("email", "offers"): ("granted", "test"),
    }
    prism.prefer = None
    again = await at(client=temporal).run(sends.send_message, request(member_id, "sms"))
    assert again.status == "sent"


@pytest.mark.parametrize("status", [429, 503])
async def test_twilio_throttling_or_outage_is_retried_then_sent_once(
    settings: Settings,
    sms_sends: tuple[SendActivities, "PrismHttpClient"],
    prism_proxy: "PrismProxy",
    member_id: str,
    status: int,
) -> None:
    sends, prism = sms_sends
    create_member(settings, member_id, phone="+16502530003")
    consent(settings, member_id, "sms", "onboarding", "granted")
    sms = request(member_id, "sms")

    prism.prefer = f"code={status}"
    with pytest.raises(TransientSendError, match=f"Twilio {status}"):
        await at().run(sends.send_message, sms)  # the activity fails: Temporal retries it
    [row] = messages(settings, member_id)
    assert row.status == MessageStatus.DEFERRED
    assert (row.reason or "").startswith(f"retrying: Twilio {status}")

    prism.prefer = None
    sent = await at().run(sends.send_message, sms)
    again = await at().run(sends.send_message, sms)

    assert sent.status == "sent" and again == sent
    assert [f.status for f in prism_proxy.messages_created()] == [status, 201]
    assert [m.status for m in messages(settings, member_id)] == [MessageStatus.SENT]


async def test_an_invalid_number_is_suppressed_but_consent_is_left_alone(
    settings: Settings,
    sms_sends: tuple[SendActivities, "PrismHttpClient"],
    prism_proxy: "PrismProxy",
    member_id: str,
) -> None:
    """Twilio 21211: the number is wrong, the member did not say no."""
    sends, prism = sms_sends
    phone = "+16502530004"
    create_member(settings, member_id, phone=phone)
    consent(settings, member_id, "sms", "onboarding", "granted")

    prism.prefer = "code=400, example=invalid_to"
    failed = await at().run(sends.send_message, request(member_id, "sms"))

    assert failed.status == "failed" and "error 21211" in (failed.reason or "")
    with session_scope(settings.effective_database_url) as session:
        suppression = session.get(Suppression, (phone, "sms"))
        assert suppression is not None
        assert suppression.reason == "invalid phone number (21211)"
    assert consents_of(settings, member_id) == {("sms", "onboarding"): ("granted", "test")}
    assert len(prism_proxy.messages_created()) == 1
