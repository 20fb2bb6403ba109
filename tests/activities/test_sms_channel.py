"""TwilioSmsChannel against Prism serving Twilio's OpenAPI description (see tests/prism.py)."""

import asyncio
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from loyalflow.activities.channels.errors import PermanentSendError, TransientSendError
from loyalflow.activities.channels.sms import OutgoingSms, TwilioSmsChannel, sms_encoding
from tests.conftest import free_port

if TYPE_CHECKING:  # imported at run time by pytest_plugins only, so pytest rewrites its asserts
    from tests.prism import PrismHttpClient

# twilio-python 9.x's async client uses aiohttp's deprecated BasicAuth (gone in aiohttp 4).
pytestmark = [
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2  # the path parameter must match ^AC[0-9a-fA-F]{32}$
AUTH_TOKEN = "test-auth-token"
SERVICE_SID = "MG" + "fedcba9876543210" * 2
SMS = OutgoingSms(message_id="msg-1", to="+15551234567", body="Welcome to the club, Ada!")


@pytest.fixture
async def channel(
    prism_url: str, prism_http_client: "PrismHttpClient"
) -> AsyncIterator[TwilioSmsChannel]:
    sms_channel = TwilioSmsChannel(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number="+15557654321",
        messaging_service_sid=SERVICE_SID,
        status_callback_url="https://hooks.example.com/twilio/status?tenant=t1",
        api_base_url=prism_url,
        http_client=prism_http_client,
    )
    yield sms_channel
    await sms_channel.aclose()
    # Whatever Prism answered, every request the client made was valid against Twilio's spec.
    assert prism_http_client.request_violations() == []


async def test_send_returns_the_message_sid(
    channel: TwilioSmsChannel, prism_http_client: "PrismHttpClient"
) -> None:
    sid = await channel.send(SMS)

    # The spec's first example for the 201 (Prism serves it as is).
    assert sid == "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    assert re.fullmatch(r"SM[0-9a-fA-F]{32}", sid)
    request = prism_http_client._test_only_last_request
    assert request.url == f"{channel.api_base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.data == {
        "To": "+15551234567",
        "From": "+15557654321",
        "MessagingServiceSid": SERVICE_SID,
        "Body": "Welcome to the club, Ada!",
        "StatusCallback": "https://hooks.example.com/twilio/status?tenant=t1&message_id=msg-1",
    }
    assert prism_http_client._test_only_last_response.status_code == 201


async def test_a_request_prism_finds_invalid_is_reported(
    prism_url: str, prism_http_client: "PrismHttpClient"
) -> None:
    """The guard in `channel`'s teardown works: a bad account SID breaks the path's pattern."""
    bad = TwilioSmsChannel(
        account_sid="AC-not-a-sid",
        auth_token=AUTH_TOKEN,
        from_number="+15557654321",
        api_base_url=prism_url,
        http_client=prism_http_client,
    )
    with pytest.raises(PermanentSendError):
        await bad.send(SMS)
    assert {tuple(v["location"]) for v in prism_http_client.request_violations()} == {
        ("request", "path", "accountsid")
    }


@pytest.mark.parametrize(("example", "code"), [("invalid_to", 21211), ("unsubscribed", 21610)])
async def test_twilio_400_is_permanent_with_its_error_code(
    channel: TwilioSmsChannel, prism_http_client: "PrismHttpClient", example: str, code: int
) -> None:
    prism_http_client.prefer = f"code=400, example={example}"

    with pytest.raises(PermanentSendError) as raised:
        await channel.send(SMS)

    assert raised.value.code == code
    assert f"error {code}" in str(raised.value)


@pytest.mark.parametrize("status", [429, 503])
async def test_throttling_and_outages_are_transient(
    channel: TwilioSmsChannel, prism_http_client: "PrismHttpClient", status: int
) -> None:
    prism_http_client.prefer = f"code={status}"

    with pytest.raises(TransientSendError, match=f"Twilio {status}"):
        await channel.send(SMS)


async def test_rejected_credentials_are_retried(
    channel: TwilioSmsChannel, prism_http_client: "PrismHttpClient"
) -> None:
    # Like the SMTP channel: a configuration problem, nothing is marked failed.
    prism_http_client.prefer = "code=401"

    with pytest.raises(TransientSendError, match="check the Twilio account SID and token"):
        await channel.send(SMS)


async def test_connection_refused_is_transient() -> None:
    nowhere = TwilioSmsChannel(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number="+15557654321",
        api_base_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
    )
    try:
        with pytest.raises(TransientSendError, match="unreachable"):
            await nowhere.send(SMS)
    finally:
        await nowhere.aclose()


async def test_a_silent_server_times_out_as_transient() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    silent = TwilioSmsChannel(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number="+15557654321",
        api_base_url=f"http://127.0.0.1:{port}",
        timeout=0.5,
    )
    try:
        with pytest.raises(TransientSendError, match=r"did not answer within 0\.5s"):
            await silent.send(SMS)
    finally:
        await silent.aclose()
        server.close()
        await server.wait_closed()


async def test_a_number_that_is_not_e164_is_refused_before_any_call() -> None:
    channel = TwilioSmsChannel(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number="+15557654321",
        api_base_url=f"http://127.0.0.1:{free_port()}",  # would be a transient error if called
    )
    with pytest.raises(PermanentSendError, match=r"E\.164") as raised:
        await channel.send(OutgoingSms(message_id="m", to="555-1234", body="hi"))
    assert raised.value.code is None


def test_a_sender_is_required() -> None:
    with pytest.raises(ValueError, match="from_number or messaging_service_sid"):
        TwilioSmsChannel(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", ("GSM-7", 0)),
        ("a" * 160, ("GSM-7", 1)),
        ("a" * 161, ("GSM-7", 2)),
        ("a" * 306, ("GSM-7", 2)),  # 2 x 153
        ("a" * 307, ("GSM-7", 3)),
        # Extension characters take two septets: 80 of them fill one segment, 81 need two.
        ("€" * 80, ("GSM-7", 1)),
        ("{" * 81, ("GSM-7", 2)),
        ("a" * 159 + "€", ("GSM-7", 2)),
        ("a" * 158 + "^", ("GSM-7", 1)),
        # An escape pair never straddles two segments: 306 septets, but 152 + 2 overflows 153.
        ("a" * 152 + "[" + "a" * 152, ("GSM-7", 3)),
        ("a" * 151 + "[" + "a" * 152, ("GSM-7", 2)),
        # The rest of the alphabet is one septet each, accents and Greek capitals included.
        ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà", ("GSM-7", 1)),
        ("Ç" * 160, ("GSM-7", 1)),  # capital C cedilla is in the alphabet...
        ("ç" + "a" * 69, ("UCS-2", 1)),  # ...the small one is not
        ("é" * 160, ("GSM-7", 1)),
        ("á", ("UCS-2", 1)),  # only the Spanish national shift table has it
        ("`", ("UCS-2", 1)),
        ("\x1b", ("UCS-2", 1)),  # the escape code itself is not a character
        ("a" * 69 + "ç", ("UCS-2", 1)),
        ("a" * 70 + "ç", ("UCS-2", 2)),
        ("ü" * 70, ("GSM-7", 1)),
        ("Ж" * 70, ("UCS-2", 1)),
        ("Ж" * 71, ("UCS-2", 2)),
        ("Ж" * 134, ("UCS-2", 2)),  # 2 x 67
        ("Ж" * 135, ("UCS-2", 3)),
        # An emoji is two UTF-16 code units, and its pair is never split either.
        ("🎉" * 35, ("UCS-2", 1)),
        ("🎉" + "a" * 69, ("UCS-2", 2)),
        ("a" * 65 + "🎉" + "a" * 65 + "🎉", ("UCS-2", 2)),  # 134 units: 67 + 67
        ("a" * 66 + "🎉" + "a" * 66, ("UCS-2", 3)),  # 134 units, but 66 + 2 overflows 67
    ],
)
def test_sms_encoding(body: str, expected: tuple[str, int]) -> None:
    assert sms_encoding(body) == expected
