"""Delivery channels. Each `send` returns the provider's id or raises a classified `SendError`."""

from typing import Protocol

from loyalflow.activities.channels.errors import PermanentSendError, SendError, TransientSendError
from loyalflow.activities.channels.mime import OutgoingEmail

__all__ = ["EmailChannel", "OutgoingEmail", "PermanentSendError", "SendError", "TransientSendError"]


class EmailChannel(Protocol):
    name: str

    async def send(self, email: OutgoingEmail) -> str: ...
