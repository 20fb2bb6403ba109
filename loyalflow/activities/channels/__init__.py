"""Delivery channels. Each `send` returns the provider's id or raises a classified `SendError`."""

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
    "OutgoingEmail",
    "OutgoingSms",
    "PermanentSendError",
    "SendError",
    "SmsChannel",
    "TransientSendError",
]


class EmailChannel(Protocol):
    name: str

    async def send(self, email: OutgoingEmail) -> str: ...


class SmsChannel(Protocol):
    name: str

    async def send(self, sms: OutgoingSms) -> str: ...
