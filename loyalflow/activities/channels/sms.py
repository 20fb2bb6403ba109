"""SMS through Twilio's official client (async), with errors classified for retry.

Also `sms_encoding`: how Twilio will encode a body (GSM-7 or UCS-2) and how many segments it bills.
"""

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from loyalflow.activities.channels.errors import (
    PermanentSendError,
    SendError,
    TransientSendError,
)

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")

# Twilio error codes the caller acts on (suppression, consent). Both come with HTTP 400.
INVALID_TO_NUMBER = 21211  # https://www.twilio.com/docs/errors/21211
UNSUBSCRIBED_RECIPIENT = 21610  # https://www.twilio.com/docs/errors/21610: replied STOP


@dataclass(frozen=True)
class OutgoingSms:
    message_id: str  # the ledger's id, decided by the workflow
    to: str  # E.164, e.g. "+15551234567"
    body: str


class TwilioSmsChannel:
    """Sends with `client.messages.create_async` and returns the Message SID (`SM…`).

    Give `from_number` (a Twilio number, short code or alphanumeric sender id) or
    `messaging_service_sid` (`MG…`, Twilio picks the sender), or both (a specific sender of the
    service's pool). `status_callback_url` receives Twilio's delivery reports; the ledger's message
    id is added to it as the `message_id` query parameter, so a report can be matched to its row
    even when the worker died before recording the SID.

    `api_base_url` replaces `https://api.twilio.com` (a test server); `http_client` replaces the
    default `AsyncTwilioHttpClient`, and is then the caller's to close. The channel's own HTTP
    client is created on the first send, in the running event loop; `aclose()` closes it.
    """

    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback_url: str | None = None,
        api_base_url: str | None = None,
        timeout: float = 30.0,
        http_client: AsyncTwilioHttpClient | None = None,
    ) -> None:
        if not account_sid or not auth_token:
            # The client would silently fall back to TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN.
            raise ValueError("account_sid and auth_token are required")
        if not from_number and not messaging_service_sid:
            raise ValueError("give from_number or messaging_service_sid")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.status_callback_url = status_callback_url
        self.api_base_url = api_base_url
        self.timeout = timeout
        self._http_client = http_client
        self._owns_http_client = http_client is None
        self._client: Any = None

    def _twilio(self) -> Any:
        if self._client is None:
            if self._http_client is None:
                # aiohttp binds its session to the running loop: create it here, not in __init__.
                self._http_client = AsyncTwilioHttpClient()
            client = Client(self.account_sid, self.auth_token, http_client=self._http_client)
            if self.api_base_url is not None:
                client.api.base_url = self.api_base_url.rstrip("/")
                # TWILIO_EDGE / TWILIO_REGION would rewrite the host into *.twilio.com.
                client.edge = None
                client.region = None
            self._client = client
        return self._client

    @property
    def _api_url(self) -> str:
        return self.api_base_url or "https://api.twilio.com"

    async def send(
        self, sms: OutgoingSms, on_handover: Callable[[], Awaitable[None]] | None = None
    ) -> str:
        if not E164.fullmatch(sms.to):
            raise PermanentSendError(f"{sms.to!r} is not an E.164 phone number")
        params: dict[str, Any] = {"to": sms.to, "body": sms.body}
        if self.from_number:
            params["from_"] = self.from_number
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        if self.status_callback_url:
            params["status_callback"] = _with_query(
                self.status_callback_url, message_id=sms.message_id
            )
        if on_handover is not None:
            await on_handover()
        try:
            # The async HTTP client ignores its own `timeout` (twilio 9.x): bound the call here.
            async with asyncio.timeout(self.timeout):
                message = await self._twilio().messages.create_async(**params)
        except TwilioRestException as exc:
            raise _classify(exc.status, exc.code, exc.msg) from exc
        except TwilioServiceException as exc:  # RFC 9457 problem details, newer Twilio APIs
            raise _classify(exc.status, exc.code, exc.detail or exc.title) from exc
        except TimeoutError as exc:
            raise TransientSendError(
                f"Twilio API {self._api_url} did not answer within {self.timeout:g}s"
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TransientSendError(f"Twilio API {self._api_url} unreachable: {exc}") from exc
        sid: str = message.sid
        return sid

    async def aclose(self) -> None:
        if self._owns_http_client and self._http_client is not None:
            await self._http_client.close()
            self._http_client = None
        self._client = None


def _classify(status: int, code: int | None, message: str) -> SendError:
    # Without a Twilio code in the body, the client reports the HTTP status as the code.
    twilio_code = None if code is None or code == status else code
    label = f"Twilio {status}" + (f" (error {twilio_code})" if twilio_code else "")
    if status == 429 or status >= 500:
        return TransientSendError(f"{label}: {message}")
    if status == 401:
        # A configuration problem: keep retrying (nothing is lost) but say exactly what is wrong.
        return TransientSendError(f"{label}: {message}; check the Twilio account SID and token")
    if twilio_code == UNSUBSCRIBED_RECIPIENT:
        message = f"recipient unsubscribed (replied STOP): {message}"
    elif twilio_code == INVALID_TO_NUMBER:
        message = f"invalid 'To' number: {message}"
    return PermanentSendError(f"{label}: {message}", code=twilio_code)


def _with_query(url: str, **extra: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *extra.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


# GSM 03.38 (3GPP TS 23.038) default alphabet, in code order 0x00-0x7F. 0x1B is the escape to the
# extension table, not a character: U+001B is left out. 0x09 is capital Ç; lowercase ç is not
# in the alphabet.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x00ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs two septets (escape + code).
GSM7_EXTENSION = "\f^{}\\[~]|€"
_GSM7_SEPTETS = {c: 1 for i, c in enumerate(GSM7_BASIC) if i != 0x1B} | dict.fromkeys(
    GSM7_EXTENSION, 2
)

SmsEncoding = Literal["GSM-7", "UCS-2"]


def sms_encoding(body: str) -> tuple[SmsEncoding, int]:
    """The encoding a body needs and the number of segments it is billed as.

    GSM-7 when every character is in the GSM 03.38 alphabet (extension characters count two
    septets): one segment up to 160 septets, else segments of 153 (the rest carries the
    concatenation header). Otherwise UCS-2 (UTF-16 code units, so an emoji counts two): one
    segment up to 70, else segments of 67. A character never straddles two segments, so an
    escape pair or a surrogate pair that does not fit starts the next one. An empty body is 0.
    """
    costs = [_GSM7_SEPTETS.get(char) for char in body]
    if all(cost is not None for cost in costs):
        return "GSM-7", _segments([c for c in costs if c is not None], single=160, part=153)
    units = [2 if ord(char) > 0xFFFF else 1 for char in body]
    return "UCS-2", _segments(units, single=70, part=67)


def _segments(costs: list[int], *, single: int, part: int) -> int:
    total = sum(costs)
    if total <= single:
        return 1 if costs else 0
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments, used = segments + 1, 0
        used += cost
    return segments
