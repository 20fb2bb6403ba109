"""The laptop channel: every message becomes a file under `$LOYALFLOW_HOME/outbox/`."""

import asyncio
import os
from pathlib import Path

from loyalflow.activities.channels.mime import OutgoingEmail


class OutboxEmailChannel:
    name = "outbox"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, email: OutgoingEmail) -> str:
        return await asyncio.to_thread(self._write, email)

    def _write(self, email: OutgoingEmail) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{email.message_id}.eml"
        partial = target.with_suffix(".eml.partial")
        partial.write_bytes(bytes(email.to_mime()))
        # Atomic rename: a reader never sees half a message, a crash never leaves one behind.
        os.replace(partial, target)
        return target.name
