"""`loyalflow preview`: see a message as a member will, before any journey sends it."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel

from loyalflow.activities.channels.sms import sms_encoding
from loyalflow.activities.decision import member_context
from loyalflow.activities.rendering import TemplateNotFound, TemplateRenderer
from loyalflow.config import get_settings
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Member

console = Console()
err = Console(stderr=True)

SAMPLE: dict[str, Any] = {
    "id": "SAMPLE-1",
    "first_name": "Camille",
    "email": "camille@example.com",
    "tier": "Silver",
    "points": 1250,
    "joined_at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
    "purchase_count": 3,
    "attributes": {},
}


def _member(member_id: str | None) -> tuple[dict[str, Any], str, str]:
    """The template context, locale and timezone: a real member's, or the sample's."""
    if member_id is None:
        return SAMPLE, "en", "UTC"
    with session_scope(get_settings().effective_database_url) as session:
        member = session.get(Member, member_id)
        if member is None:
            err.print(f"[red]no member {member_id!r}[/red] (leave out --member for a sample)")
            raise typer.Exit(1)
        return member_context(member), member.locale, member.timezone


def preview(
    template: Annotated[str, typer.Argument(help="template folder, e.g. welcome")],
    member: Annotated[str | None, typer.Option(help="a member id (default: sample data)")] = None,
    locale: Annotated[
        str | None, typer.Option(help="override the member's locale, e.g. fr")
    ] = None,
    html: Annotated[Path | None, typer.Option(help="write the HTML part to this file")] = None,
) -> None:
    """Render a message's email (subject, text, HTML) and SMS (with encoding and segments)."""
    settings = get_settings()
    renderer = TemplateRenderer(settings.templates_dir, settings.program_name)
    context, member_locale, timezone = _member(member)
    chosen = locale or member_locale
    folder = settings.templates_dir / template
    if not folder.is_dir():
        err.print(f"[red]no template {template!r}[/red] in {settings.templates_dir}")
        raise typer.Exit(1)
    shown = False
    if any(folder.glob("*.subject.txt")):
        email = renderer.render_email(template, chosen, context, timezone)
        console.print(Panel(email.text, title=f"[b]{email.subject}[/b]  ({email.locale})"))
        target = html or Path(f"{template}.{email.locale}.html")
        target.write_text(email.html, encoding="utf-8")
        console.print(f"HTML part written to {target}")
        shown = True
    try:
        sms = renderer.render_sms(template, chosen, context, timezone)
    except TemplateNotFound:
        pass
    else:
        encoding, segments = sms_encoding(sms.body)
        subtitle = f"{encoding}, {len(sms.body)} characters, {segments} segment(s)"
        console.print(Panel(sms.body, title=f"SMS ({sms.locale})", subtitle=subtitle))
        shown = True
    if not shown:
        err.print(f"[red]{folder} has no email (*.subject.txt) or SMS (*.sms.txt) templates[/red]")
        raise typer.Exit(1)
