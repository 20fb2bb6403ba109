"""Twilio webhooks, signed as Twilio signs them: delivery reports and inbound STOP / START / HELP."""

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from loyalflow.activities.ledger import INTERRUPTED_PREFIX
from loyalflow.activities.refusals import SUPPRESSING_CODES
from loyalflow.api.app import create_app
from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Message, MessageStatus, Suppression
from loyalflow.security.tokens import preferences_url
from tests.api.test_unsubscribe import consent_events, consents, put_member, set_consent

AUTH_TOKEN = "twilio-auth-token-for-tests"
PUBLIC_URL = "https://loyalty.example.com"
STATUS = "/webhooks/twilio/status"
INBOUND = "/webhooks/twilio/inbound"


@pytest.fixture
def twilio_settings(api_settings: Settings) -> Settings:
    # The API sits behind a proxy: Twilio signs the public URL, not the one the app sees.
    return api_settings.model_copy(
        update={"twilio_auth_token": SecretStr(AUTH_TOKEN), "public_url": PUBLIC_URL}
    )


@pytest.fixture
def twilio(twilio_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(twilio_settings)) as client:
        yield client


def phone_number() -> str:
    """A valid French mobile number no other test uses: suppressions outlive a test."""
    return f"+3361{random.randrange(10**7):07d}"


def signed_post(
    client: TestClient,
    path: str,
    params: dict[str, str],
    *,
    token: str = AUTH_TOKEN,
    signed_url: str | None = None,
) -> httpx.Response:
    """What Twilio does: sign the full public URL (query included) and the form parameters."""
    url = signed_url or PUBLIC_URL + path
    signature: str = RequestValidator(token).compute_signature(url, params)
    response: httpx.Response = client.post(
        path, data=params, headers={"X-Twilio-Signature": signature}
    )
    return response


def ledger_row(settings: Settings, member_id: str, **fields: Any) -> str:
    message_id = uuid.uuid4().hex
    values: dict[str, Any] = {
        "message_id": message_id,
        "member_id": member_id,
        "journey_id": "welcome",
        "workflow_id": f"journey-welcome-{member_id}",
        "step_id": "benefits_reminder",
        "channel": "sms",
        "template": "welcome_reminder",
        "status": MessageStatus.SENT,
        "provider_id": "SM" + uuid.uuid4().hex,
        **fields,
    }
    with session_scope(settings.effective_database_url) as session:
        session.add(Message(**values))
    return message_id


def ledger(settings: Settings, message_id: str) -> Message:
    with session_scope(settings.effective_database_url) as session:
        row = session.get(Message, message_id)
        assert row is not None
        return row


def suppression(settings: Settings, phone: str) -> Suppression | None:
    with session_scope(settings.effective_database_url) as session:
        return session.get(Suppression, (phone, "sms"))


def report(
    client: TestClient, row: Message, status: str, query: bool = True, **extra: str
) -> httpx.Response:
    path = f"{STATUS}?message_id={row.message_id}" if query else STATUS
    params = {"MessageSid": row.provider_id or "", "MessageStatus": status, **extra}
    response = signed_post(client, path, params)
    assert response.status_code == 204, response.text
    return response


def reply_of(response: httpx.Response) -> str | None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    message = ElementTree.fromstring(response.text).find("Message")
    return None if message is None else message.text


def texted(client: TestClient, phone: str, body: str) -> httpx.Response:
    params = {"MessageSid": "SM" + uuid.uuid4().hex, "From": phone, "To": "+15005550006"}
    return signed_post(client, INBOUND, {**params, "Body": body})


@pytest.fixture
def sms_member(twilio: TestClient, member_id: str) -> tuple[str, str]:
    phone = phone_number()
    put_member(twilio, member_id, phone=phone)
    set_consent(twilio, member_id, "sms", "offers", "granted")
    set_consent(twilio, member_id, "sms", "onboarding", "granted")
    set_consent(twilio, member_id, "sms", "loyalty", "revoked")  # the member's own choice
    set_consent(twilio, member_id, "email", "offers", "granted")
    return member_id, phone


# --- signatures ----------------------------------------------------------------------------------


def test_forged_requests_are_refused_and_change_nothing(
    twilio: TestClient, twilio_settings: Settings, sms_member: tuple[str, str]
) -> None:
    member_id, phone = sms_member
    message_id = ledger_row(twilio_settings, member_id)
    row = ledger(twilio_settings, message_id)
    status_path = f"{STATUS}?message_id={message_id}"
    delivered = {"MessageSid": row.provider_id or "", "MessageStatus": "delivered"}
    stop = {"MessageSid": "SM1", "From": phone, "To": "+15005550006", "Body": "STOP"}

    refused = [
        twilio.post(status_path, data=delivered),  # no signature
        twilio.post(status_path, data=delivered, headers={"X-Twilio-Signature": "Zm9yZ2Vk"}),
        signed_post(twilio, status_path, delivered, token="another account's token"),
        # Signed for another URL: the internal one, or another message's id.
        signed_post(twilio, status_path, delivered, signed_url=f"http://testserver{status_path}"),
        signed_post(
            twilio, status_path, delivered, signed_url=f"{PUBLIC_URL}{STATUS}?message_id=x"
        ),
        signed_post(twilio, INBOUND, stop, token="another account's token"),
    ]
    # Parameters changed after signing.
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + INBOUND, stop)
    refused.append(
        twilio.post(
            INBOUND,
            data={**stop, "From": phone_number()},
            headers={"X-Twilio-Signature": signature},
        )
    )

    assert [r.status_code for r in refused] == [403] * len(refused)
    assert ledger(twilio_settings, message_id).status == MessageStatus.SENT
    assert suppression(twilio_settings, phone) is None
    assert consent_events(twilio_settings, member_id) == []


def test_without_an_auth_token_webhooks_are_unavailable(client: TestClient) -> None:
    response = client.post(STATUS, data={"MessageStatus": "delivered"})

    assert response.status_code == 503


# --- status callbacks ----------------------------------------------------------------------------


def test_delivered_is_recorded_once_and_never_moves_back(
    twilio: TestClient, twilio_settings: Settings, sms_member: tuple[str, str]
) -> None:
    message_id = ledger_row(twilio_settings, sms_member[0], reason="via twilio")
    row = ledger(twilio_settings, message_id)

    report(twilio, row, "delivered")
    after_delivered = ledger(twilio_settings, message_id)
    report(twilio, row, "delivered")  # Twilio retries
    report(twilio, row, "sent")  # a late, older report
    report(twilio, row, "undelivered", ErrorCode="30003")  # a contradicting late one

    final = ledger(twilio_settings, message_id)
    assert final.status == MessageStatus.DELIVERED
    assert final.reason == "via twilio"
    assert final.updated_at == after_delivered.updated_at


def test_a_report_is_matched_by_message_sid_without_the_query(
    twilio: TestClient, twilio_settings: Settings, sms_member: tuple[str, str]
) -> None:
    message_id = ledger_row(twilio_settings, sms_member[0])

    report(twilio, ledger(twilio_settings, message_id), "delivered", query=False)

    assert ledger(twilio_settings, message_id).status == MessageStatus.DELIVERED


def test_a_report_before_the_worker_recorded_the_sid_completes_the_row(
    twilio: TestClient, twilio_settings: Settings, sms_member: tuple[str, str]
) -> None:
    message_id = ledger_row(twilio_settings, sms_member[0], status="sending", provider_id=None)
    sid = "SM" + uuid.uuid4().hex

    signed_post(
        twilio,
        f"{STATUS}?message_id={message_id}",
        {"MessageSid": sid, "MessageStatus": "sent"},
    )

    row = ledger(twilio_settings, message_id)
    assert (row.status, row.provider_id) == (MessageStatus.SENT, sid)


def test_a_row_failed_by_a_worker_crash_is_corrected_by_twilio(
    twilio: TestClient, twilio_settings: Settings, sms_member: tuple[str, str]
) -> None:
    message_id = ledger_row(
        twilio_settings,
        sms_member[0],
        status="failed",
        reason=f"{INTERRUPTED_PREFIX}handed to the sms provider at 2026-12-04 10:00:00 UTC",
        interrupted_at=datetime(2026, 12, 4, 10, tzinfo=UTC),
        provider_id=None,
    )

    signed_post(
        twilio,
        f"{STATUS}?message_id={message_id}",
        {"MessageSid": "SM" + uuid.uuid4().hex, "MessageStatus": "delivered"},
    )

    row = ledger(twilio_settings, message_id)
    assert row.status == MessageStatus.DELIVERED
    assert row.reason == "Twilio reported delivered"


def test_undelivered_is_failed_with_the_error_code(
    twilio: TestClient, twilio_settings: Settings, sms_member: tuple[str, str]
) -> None:
    member_id, phone = sms_member
    message_id = ledger_row(twilio_settings, member_id)

    report(
        twilio,
        ledger(twilio_settings, message_id),
        "undelivered",
        ErrorCode="30003",
        ErrorMessage="Unreachable destination handset",
    )

    row = ledger(twilio_settings, message_id)
    assert row.status == MessageStatus.FAILED
    assert row.reason == "Twilio undelivered (error 30003): Unreachable destination handset"
    assert suppression(twilio_settings, phone) is None  # a switched-off phone is not a STOP


def test_failed_21610_suppresses_the_number_and_revokes_sms_consent(
    twilio: TestClient, twilio_settings: Settings, sms_member: tuple[str, str]
) -> None:
    member_id, phone = sms_member
    message_id = ledger_row(twilio_settings, member_id)
    row = ledger(twilio_settings, message_id)

    report(twilio, row, "failed", ErrorCode="21610", To=phone)
    report(twilio, row, "failed", ErrorCode="21610", To=phone)  # repeated: nothing more

    failed = ledger(twilio_settings, message_id)
    assert failed.status == MessageStatus.FAILED
    assert failed.reason is not None and "21610" in failed.reason
    suppressed = suppression(twilio_settings, phone)
    assert suppressed is not None and suppressed.reason.startswith("twilio-21610")
    state = consents(twilio, member_id)
    assert state[("sms", "offers")] == ("revoked", "twilio-21610")
    assert state[("sms", "onboarding")] == ("revoked", "twilio-21610")
    assert state[("email", "offers")] == ("granted", "test")  # email is another channel
    assert len(consent_events(twilio_settings, member_id)) == 2


def test_a_report_for_an_unknown_message_is_accepted_and_ignored(twilio: TestClient) -> None:
    response = signed_post(
        twilio, f"{STATUS}?message_id=nope", {"MessageSid": "SMnope", "MessageStatus": "delivered"}
    )

    assert response.status_code == 204


# --- inbound keywords ----------------------------------------------------------------------------


def test_stop_suppresses_the_number_and_revokes_every_granted_sms_topic(
    twilio: TestClient, twilio_settings: Settings, sms_member: tuple[str, str]
) -> None:
    member_id, phone = sms_member

    reply = reply_of(texted(twilio, phone, "  stop \n"))

    assert reply is not None and "START" in reply and "unsubscribed" in reply
    suppressed = suppression(twilio_settings, phone)
    assert suppressed is not None and suppressed.reason.startswith("sms-stop")
    state = consents(twilio, member_id)
    assert state[("sms", "offers")] == ("revoked", "sms-stop")
    assert state[("sms", "onboarding")] == ("revoked", "sms-stop")
    assert state[("sms", "loyalty")] == ("revoked", "test")  # already revoked: no event
    assert state[("email", "offers")] == ("granted", "test")
    assert len(consent_events(twilio_settings, member_id)) == 2
    page = twilio.get(urlsplit(preferences_url(twilio_settings, member_id)).path)
    assert "paused because you replied STOP" in page.text


@pytest.mark.parametrize("keyword", ["STOPALL", "Unsubscribe", "cancel", "END", "quit"])
def test_every_standard_opt_out_keyword_stops(
    twilio: TestClient, twilio_settings: Settings, keyword: str
) -> None:
    phone = phone_number()

    reply_of(texted(twilio, phone, keyword))

    assert suppression(twilio_settings, phone) is not None


def test_start_undoes_what_stop_did_and_nothing_else(
    twilio: TestClient, twilio_settings: Settings, sms_member: tuple[str, str]
) -> None:
    member_id, phone = sms_member
    texted(twilio, phone, "STOP")

    reply = reply_of(texted(twilio, phone, "Start"))

    assert reply is not None and "subscribed again" in reply
    assert suppression(twilio_settings, phone) is None
    state = consents(twilio, member_id)
    assert state[("sms", "offers")] == ("granted", "sms-start")
    assert state[("sms", "onboarding")] == ("granted", "sms-start")
    assert state[("sms", "loyalty")] == ("revoked", "test")  # revoked by the member, not by STOP
    assert len(consent_events(twilio_settings, member_id)) == 4


def test_start_does_not_lift_a_suppression_that_was_not_a_stop(
    twilio: TestClient, twilio_settings: Settings
) -> None:
    phone = phone_number()
    with session_scope(twilio_settings.effective_database_url) as session:
        session.add(Suppression(address=phone, channel="sms", reason="carrier complaint"))

    reply_of(texted(twilio, phone, "YES"))

    assert suppression(twilio_settings, phone) is not None


def test_start_lifts_the_suppression_a_refused_send_recorded(
    twilio: TestClient, twilio_settings: Settings
) -> None:
    phone = phone_number()
    with session_scope(twilio_settings.effective_database_url) as session:
        # What the send activity records when Twilio's API refuses a message with 21610.
        session.add(
            Suppression(
                address=phone, channel="sms", reason=f"{SUPPRESSING_CODES['sms'][21610]} (21610)"
            )
        )

    reply_of(texted(twilio, phone, "UNSTOP"))

    assert suppression(twilio_settings, phone) is None


def test_help_replies_with_help_and_changes_nothing(
    twilio: TestClient, twilio_settings: Settings, sms_member: tuple[str, str]
) -> None:
    member_id, phone = sms_member

    reply = reply_of(texted(twilio, phone, "help"))

    assert reply is not None and "Loyalty Program" in reply and "STOP" in reply
    assert suppression(twilio_settings, phone) is None
    assert consent_events(twilio_settings, member_id) == []


def test_replies_are_in_the_members_language(
    twilio: TestClient, twilio_settings: Settings, member_id: str
) -> None:
    phone = phone_number()
    put_member(twilio, member_id, phone=phone, locale="fr-CA")

    reply = reply_of(texted(twilio, phone, "HELP"))

    assert reply is not None and "Répondez STOP" in reply


def test_stop_from_an_unknown_number_still_suppresses_it(
    twilio: TestClient, twilio_settings: Settings
) -> None:
    phone = phone_number()

    reply = reply_of(texted(twilio, phone, "STOP"))

    assert reply is not None
    assert suppression(twilio_settings, phone) is not None


def test_any_other_text_gets_an_empty_reply(
    twilio: TestClient, twilio_settings: Settings, sms_member: tuple[str, str]
) -> None:
    member_id, phone = sms_member

    assert reply_of(texted(twilio, phone, "stop sending me offers please")) is None
    assert suppression(twilio_settings, phone) is None
    assert consent_events(twilio_settings, member_id) == []
