"""The laptop channels: every message becomes a file under `$LOYALFLOW_HOME/outbox/`."""

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from loyalflow.activities.channels.mime import OutgoingEmail
from loyalflow.activities.channels.sms import OutgoingSms, sms_encoding


class OutboxEmailChannel:
    name = "outbox"

    def __init__(self, directory: Path, message_id_domain: str | None = None) -> None:
        self.directory = directory
        self.message_id_domain = message_id_domain  # None: the sender's domain

    async def send(
        self,
        email: OutgoingEmail,
        on_handover: Callable[[], Awaitable[None]] | None = None,
        on_accepted: Callable[[str], Awaitable[None]] | None = None,
    ) -> str:
        if on_handover is not None:
            await on_handover()
        written = await asyncio.to_thread(self._write, email)
        if on_accepted is not None:
            await on_accepted(written)
        return written

    def _write(self, email: OutgoingEmail) -> str:
        email = email.on_domain(self.message_id_domain)
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{email.message_id}.eml"
        partial = target.with_suffix(".eml.partial")
        partial.write_bytes(bytes(email.to_mime()))
        # Atomic rename: a reader never sees half a message, a crash never leaves one behind.
        os.replace(partial, target)
        return target.name


class OutboxSmsChannel:
    """SMS as text files beside the emails: `<message_id>.sms.txt`."""

    name = "outbox"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(
        self, sms: OutgoingSms, on_handover: Callable[[], Awaitable[None]] | None = None
    ) -> str:
        if on_handover is not None:
            await on_handover()
        return await asyncio.to_thread(self._write, sms)

    def _write(self, sms: OutgoingSms) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{sms.message_id}.sms.txt"
        partial = target.with_suffix(".partial")
        encoding, segments = sms_encoding(sms.body)
        partial.write_text(
            f"To: {sms.to}\nEncoding: {encoding}, {segments} segment(s)\n\n{sms.body}\n",
            encoding="utf-8",
        )
        os.replace(partial, target)
        return target.name
