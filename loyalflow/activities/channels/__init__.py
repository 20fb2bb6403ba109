"""Delivery channels. Each `send` returns the provider's id or raises a classified `SendError`.

`on_handover` is awaited at the last moment before the provider may have the message (an SMTP
connection held and the recipient accepted, just before DATA; just before the Twilio request):
the send activity marks the ledger row `sending` there, so a message still waiting for a pooled
connection when the worker dies is retried rather than written off.
"""

from collections.abc import Awaitable, Callable
from typing import Protocol

from loyalflow.activities.channels.errors import (
    AmbiguousSendError,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from loyalflow.activities.channels.mime import OutgoingEmail
from loyalflow.activities.channels.sms import OutgoingSms

__all__ = [
    "AmbiguousSendError",
    "EmailChannel",
    "Handover",
    "OutgoingEmail",
    "OutgoingSms",
    "PermanentSendError",
    "SendError",
    "SmsChannel",
    "TransientSendError",
]


Handover = Callable[[], Awaitable[None]]


class EmailChannel(Protocol):
    name: str

    async def send(
        self,
        email: OutgoingEmail,
        on_handover: Handover | None = None,
        on_accepted: Callable[[str], Awaitable[None]] | None = None,
    ) -> str: ...


class SmsChannel(Protocol):
    name: str

    async def send(self, sms: OutgoingSms, on_handover: Handover | None = None) -> str: ...
