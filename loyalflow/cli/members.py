"""Members and events from the command line, exactly like `PUT /members/{id}` and `POST /events`:
`loyalflow event`, `loyalflow member put|get`. Each imports only what it needs; a read goes
through `cli/readers` (the database driver alone), so it answers in well under a second."""

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from pydantic import ValidationError

console = Console()
err = Console(stderr=True)


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

    from loyalflow.catalog.event_types import event_types_from
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
            settings.effective_database_url,
            [incoming],
            rules_from(settings.loyalty_rules_file),
            event_types_from(settings.events_file),
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
    _print_member(member_id)


def member_get(member_id: str) -> None:
    """Print a member's current state as JSON: profile, points, tier, purchases, consents."""
    _print_member(member_id)


def _print_member(member_id: str) -> None:
    from loyalflow.cli.readers.member import read_member
    from loyalflow.config import get_settings
    from loyalflow.rules.loyalty import rules_from

    settings = get_settings()
    ladder = rules_from(settings.loyalty_rules_file).tiers
    stored = read_member(settings.effective_database_url, member_id, ladder)
    if stored is None:
        err.print(f"[red]no member {member_id!r}[/red]")
        raise typer.Exit(1)
    console.print_json(stored.model_dump_json())
