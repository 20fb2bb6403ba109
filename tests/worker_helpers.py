"""A real loyalflow worker in the test process, sending through the test's SMTP sink: the
fixture that tests of support, the console and tracking start their journeys with."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.client import Client
from temporalio.worker import Worker

from loyalflow.activities.channels.email import SmtpEmailChannel
from loyalflow.config import Settings
from loyalflow.runtime.worker import build_worker
from tests.journey_helpers import stop_running_journeys
from tests.smtp_server import SmtpServer


def plain_smtp(server: SmtpServer, pool_size: int = 4) -> SmtpEmailChannel:
    """The sink without TLS or authentication, as a local relay would be."""
    return SmtpEmailChannel(
        host="127.0.0.1",
        port=server.port,
        username=None,
        password=None,
        start_tls=False,
        timeout=10,
        pool_size=pool_size,
    )


@asynccontextmanager
async def worker_sending_to(
    client: Client, settings: Settings, smtp_server: SmtpServer
) -> AsyncIterator[Worker]:
    """The worker while the test runs; then the journeys it left running are stopped (they
    would otherwise wake on the shared dev server after the test) and the SMTP pool closed."""
    email = plain_smtp(smtp_server)
    try:
        async with build_worker(client, settings, email=email) as running:
            yield running
            await stop_running_journeys(client, settings)
    finally:
        await email.aclose()
