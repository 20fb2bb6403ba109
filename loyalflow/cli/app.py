"""The `loyalflow` command line (Typer + Rich).

Only Typer and Rich are imported at start: each command imports what it needs when it runs, and
the command groups in other modules load lazily (`cli/lazy.py`), so `--help` answers at once.
"""

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from loyalflow.cli.lazy import Lazy, lazy_group

if TYPE_CHECKING:
    from pydantic import ValidationError

    from loyalflow.config import Settings

app = typer.Typer(
    help="loyalflow: member journeys for loyalty programs, on Temporal.",
    cls=lazy_group(
        {
            "preview": Lazy(
                "loyalflow.cli.preview",
                "preview",
                "Render a message's email and SMS, for a member or samples.",
            ),
            "import": Lazy(
                "loyalflow.cli.imports",
                "import_app",
                "Import members (CSV) and events (JSON Lines) in bulk.",
            ),
            "journeys": Lazy(
                "loyalflow.cli.journeys", "journeys_app", "Check, list and show journeys."
            ),
            "runs": Lazy(
                "loyalflow.cli.support",
                "runs_app",
                "Find journey runs, read their trail, exit them, re-send messages.",
            ),
            "simulate": Lazy(
                "loyalflow.cli.simulate",
                "simulate",
                "Run one journey for one member in skipped time.",
            ),
            "bounces": Lazy(
                "loyalflow.cli.engagement",
                "bounces",
                "Receive bounce and complaint mail (SMTP or LMTP) for VERP addresses.",
            ),
            "engagement": Lazy(
                "loyalflow.cli.engagement",
                "engagement",
                "Per journey and step: sent, human opens and clicks, machine ones, bounces.",
            ),
            "report": Lazy(
                "loyalflow.cli.report",
                "report_app",
                "Results: journey funnels and experiment verdicts, as tables, JSON or CSV.",
            ),
            "demo": Lazy(
                "loyalflow.cli.simulate",
                "demo",
                "Simulate a synthetic program through every built-in journey.",
            ),
        }
    ),
)
member_app = typer.Typer(
    help="Create, update and read members.",
    cls=lazy_group(
        {
            "show": Lazy(
                "loyalflow.cli.support",
                "member_show",
                "A member's whole story: events, points, tier, consent, journeys.",
            ),
            "explain": Lazy(
                "loyalflow.cli.support",
                "member_explain",
                "In plain words: why the member is or is not in a journey.",
            ),
            "redeem": Lazy(
                "loyalflow.cli.points",
                "member_redeem",
                "Redeem a reward with the member's points (idempotent by redemption id).",
            ),
        }
    ),
)
app.add_typer(member_app, name="member")
console = Console()
err = Console(stderr=True)


def _logging() -> None:
    from loyalflow.config import get_settings
    from loyalflow.runtime.logs import configure_logging

    configure_logging(get_settings().log_format)


@app.command()
def up() -> None:
    """Start everything: embedded Temporal (unless LOYALFLOW_TEMPORAL_ADDRESS is set), migrations,
    the worker and the API. Ctrl-C stops it all."""
    from loyalflow.config import get_settings
    from loyalflow.runtime.supervisor import Supervisor

    settings = get_settings()
    _refuse_open_api(settings)
    raise typer.Exit(Supervisor(settings, console).run())


@app.command()
def worker() -> None:
    """Run a Temporal worker (as many as you like, on any host, against the same server)."""
    from loyalflow.runtime.worker import main

    main()


@app.command()
def api() -> None:
    """Run the HTTP API (FastAPI; OpenAPI at /docs)."""
    import uvicorn

    from loyalflow.api.app import create_app
    from loyalflow.config import get_settings

    settings = get_settings()
    _refuse_open_api(settings)
    # JSON: uvicorn's own loggers (its default config writes text) go through the root's handler.
    logging_options: dict[str, Any] = {}
    if settings.log_format == "json":
        _logging()
        logging_options["log_config"] = None
    uvicorn.run(
        create_app(settings), host=settings.api_host, port=settings.api_port, **logging_options
    )


def _refuse_open_api(settings: "Settings") -> None:
    refusal = settings.open_api_refusal()
    if refusal:
        err.print(f"[red]{refusal}[/red]", soft_wrap=True)
        raise typer.Exit(2)


@app.command()
def migrate() -> None:
    """Apply database migrations (Alembic) up to the latest schema."""
    from loyalflow.config import get_settings
    from loyalflow.models.db import upgrade_database

    settings = get_settings()
    upgrade_database(settings.effective_database_url)
    console.print("database schema is up to date")


def _parse_pairs(pairs: list[str], option: str) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=option)
        try:
            parsed[key] = json.loads(raw)
        except json.JSONDecodeError:
            parsed[key] = raw
    return parsed


def _validation_exit(exc: "ValidationError") -> typer.Exit:
    for error in exc.errors():
        err.print(f"[red]{'.'.join(map(str, error['loc']))}[/red]: {error['msg']}")
    return typer.Exit(2)


@app.command()
def event(
    type: Annotated[str, typer.Argument(help="event type, e.g. member.joined or purchase")],
    member: Annotated[str, typer.Option("--member", "-m", help="member id")],
    prop: Annotated[
        list[str], typer.Option("--prop", "-p", help="property KEY=VALUE (JSON values allowed)")
    ] = [],  # noqa: B006 (Typer reads the default)
    event_id: Annotated[str | None, typer.Option("--id", help="event id (default: random)")] = None,
    at: Annotated[
        datetime | None, typer.Option(help="when it happened, ISO 8601 (default: now)")
    ] = None,
) -> None:
    """Ingest one event, exactly like POST /events, and route it to journeys."""
    import asyncio

    from pydantic import ValidationError

    from loyalflow.config import get_settings
    from loyalflow.members.ingest import EventsRejected, store_events
    from loyalflow.models.api import EventIn
    from loyalflow.routing.router import route_events
    from loyalflow.rules.loyalty import rules_from
    from loyalflow.runtime.connection import connect

    settings = get_settings()
    occurred = at or datetime.now(UTC)
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)  # a bare date-time on the command line means UTC
    try:
        incoming = EventIn(
            event_id=event_id or str(uuid.uuid4()),
            member_id=member,
            type=type,
            occurred_at=occurred,
            properties=_parse_pairs(prop, "--prop"),
        )
    except ValidationError as exc:
        raise _validation_exit(exc) from exc
    try:
        stored = store_events(
            settings.effective_database_url, [incoming], rules_from(settings.loyalty_rules_file)
        )
    except EventsRejected as exc:
        err.print(f"[red]rejected[/red]: {exc}")
        raise typer.Exit(2) from exc
    if stored[0].duplicate:
        console.print(f"event {incoming.event_id} was already stored; nothing to do")
        return

    async def _route() -> bool:
        client = await connect(settings, wait_seconds=5)
        return await route_events(client, settings, [s.event for s in stored])

    try:
        routed = asyncio.run(_route())
    except Exception as exc:
        err.print(f"[yellow]stored, but Temporal is unreachable ({exc}); a worker will route it[/]")
        return
    console.print(f"event {incoming.event_id} stored and {'routed' if routed else 'queued'}")


@member_app.command("put")
def member_put(
    member_id: str,
    email: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option(help="E.164, e.g. +33612345678")] = None,
    first_name: Annotated[str | None, typer.Option()] = None,
    locale: Annotated[str | None, typer.Option(help="e.g. en, fr, fr-CA")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA, e.g. Europe/Paris")] = None,
    attr: Annotated[list[str], typer.Option(help="custom attribute KEY=VALUE")] = [],  # noqa: B006
) -> None:
    """Create or update a member, exactly like PUT /members/{id}."""
    from pydantic import ValidationError

    from loyalflow.config import get_settings
    from loyalflow.members.ingest import upsert_member
    from loyalflow.models.api import MemberIn

    fields: dict[str, Any] = {
        name: value
        for name, value in {
            "email": email,
            "phone": phone,
            "first_name": first_name,
            "locale": locale,
            "timezone": timezone,
        }.items()
        if value is not None
    }
    if attr:
        fields["attributes"] = _parse_pairs(attr, "--attr")
    try:
        data = MemberIn.model_validate(fields)
    except ValidationError as exc:
        raise _validation_exit(exc) from exc
    url = get_settings().effective_database_url
    _, created = upsert_member(url, member_id, data)
    console.print(f"member {member_id} {'created' if created else 'updated'}")
    _print_member(url, member_id)


@member_app.command("get")
def member_get(member_id: str) -> None:
    """Print a member's current state as JSON: profile, points, tier, purchases, consents."""
    from loyalflow.config import get_settings

    _print_member(get_settings().effective_database_url, member_id)


def _print_member(url: str, member_id: str) -> None:
    from loyalflow.members.ingest import get_member

    stored = get_member(url, member_id)
    if stored is None:
        err.print(f"[red]no member {member_id!r}[/red]")
        raise typer.Exit(1)
    console.print_json(stored.model_dump_json())
