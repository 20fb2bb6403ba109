"""The bounce receiver: an SMTP (or LMTP) server, by aiosmtpd, that the mail server forwards
bounce mail to (`bounces+*@<LOYALFLOW_BOUNCE_DOMAIN>`).

Every mail is answered 250 once it is stored: a report we cannot read is kept raw in
`bounce_report` for inspection, and no mail, however broken, stops the receiver. Only a failure
to store at all (the database is down) answers 451, so the mail server tries again later.
"""

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP
from temporalio.client import Client

from loyalflow.bounces.effects import apply_report
from loyalflow.bounces.reports import Report, parse_report
from loyalflow.config import Settings
from loyalflow.security.verp import message_id_from_verp

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 10 * 1024 * 1024


class BounceHandler:
    def __init__(self, temporal: Client, settings: Settings) -> None:
        self.temporal = temporal
        self.settings = settings
        self.received = 0

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content or b""
        # NUL cannot be stored in a PostgreSQL text column; the rest is kept as it came.
        text = raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
        verp_ids = [m for m in map(message_id_from_verp, envelope.rcpt_tos) if m]
        try:
            reports = parse_report(raw)
        except Exception as exc:  # parse_report is total; this is the last line of defence
            reports = [Report("malformed", detail=f"parser error: {exc}")]
        try:
            for report in reports:
                message_id = verp_ids[0] if verp_ids else None
                await apply_report(self.temporal, self.settings, report, message_id, text)
        except Exception:
            log.exception("could not store a bounce report; the mail server will retry")
            return "451 4.3.0 could not store the report, try again later"
        self.received += 1
        return "250 OK report stored"


class _ReceiverController(Controller):
    def __init__(self, handler: BounceHandler, *, lmtp: bool, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.lmtp = lmtp

    def factory(self) -> SMTP:
        server_class = LMTP if self.lmtp else SMTP
        return server_class(self.handler, **self.SMTP_kwargs)


def receiver(temporal: Client, settings: Settings) -> Controller:
    """A started-on-demand receiver on `LOYALFLOW_BOUNCE_HOST:LOYALFLOW_BOUNCE_PORT`."""
    return _ReceiverController(
        BounceHandler(temporal, settings),
        lmtp=settings.bounce_lmtp,
        hostname=settings.bounce_host,
        port=settings.bounce_port,
        server_hostname="localhost",  # no DNS lookup of our own name on every connection
        data_size_limit=MAX_MESSAGE_BYTES,
    )


async def serve(temporal: Client, settings: Settings, stop: asyncio.Event) -> None:
    controller = receiver(temporal, settings)
    controller.start()
    log.info(
        "bounce receiver (%s) on %s:%s",
        "LMTP" if settings.bounce_lmtp else "SMTP",
        settings.bounce_host,
        settings.bounce_port,
    )
    try:
        await stop.wait()
    finally:
        controller.stop()
