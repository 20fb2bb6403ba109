"""Engagement commands: `loyalflow bounces` (the bounce and complaint receiver) and
`loyalflow engagement` (opens, clicks and bounces per journey step, read through cli/readers:
the database driver alone, no ORM)."""

from typing import Annotated

import typer
from rich.console import Console

console = Console()


def bounces() -> None:
    """Receive bounce and complaint mail (SMTP, or LMTP with LOYALFLOW_BOUNCE_LMTP=true) on
    LOYALFLOW_BOUNCE_HOST:LOYALFLOW_BOUNCE_PORT: point the mail server's bounces+* address here."""
    import asyncio
    import signal

    from loyalflow.bounces.receiver import serve
    from loyalflow.config import get_settings
    from loyalflow.runtime.connection import connect
    from loyalflow.runtime.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_format)

    async def _run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        temporal = await connect(settings, wait_seconds=30)
        await serve(temporal, settings, stop)

    asyncio.run(_run())


def engagement(
    journey: Annotated[str | None, typer.Option(help="only this journey")] = None,
) -> None:
    """Per journey and step: sent, unique human opens and clicks, machine ones apart, bounces."""
    from rich.table import Table

    from loyalflow.cli.readers.support import read_engagement
    from loyalflow.config import get_settings

    rows = read_engagement(get_settings().effective_database_url, journey)
    table = Table(
        "journey",
        "step",
        "sent",
        "opened",
        "clicked",
        "machine opens",
        "machine clicks",
        "bounced",
        title="Engagement (unique messages; people only unless marked machine)",
    )
    for row in rows:
        table.add_row(
            row.journey_id,
            row.step_id,
            *(
                str(v)
                for v in (
                    row.sent,
                    row.human_opens,
                    row.human_clicks,
                    row.machine_opens,
                    row.machine_clicks,
                    row.bounced,
                )
            ),
        )
    console.print(table)
