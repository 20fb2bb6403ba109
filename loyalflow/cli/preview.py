"""`loyalflow preview`: see a message as a member will, before any journey sends it."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from jinja2 import UndefinedError
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from loyalflow.config import get_settings
from loyalflow.support.template_preview import (
    UnknownMember,
    UnknownTemplate,
    render_preview,
)

console = Console()
err = Console(stderr=True)

_KEY_VALUES_HELP = (
    "key=value, repeatable; values are JSON when they parse (42, 4.5, true), else text"
)


def _key_values(option: str, pairs: list[str] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint=option)
        try:
            values[key.strip()] = json.loads(raw)
        except ValueError:
            values[key.strip()] = raw
    return values


def preview(
    template: Annotated[str, typer.Argument(help="template folder, e.g. welcome")],
    member: Annotated[
        str | None, typer.Option(help="a member id, or 'sample' (default: sample data)")
    ] = None,
    locale: Annotated[
        str | None, typer.Option(help="override the member's locale, e.g. fr")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "--html",
            help="write the HTML part to this file (default: <home>/output/<template>.<locale>.html)",
        ),
    ] = None,
    trigger: Annotated[
        list[str] | None,
        typer.Option(help=f"a property of the trigger event ({_KEY_VALUES_HELP})"),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help=f"a param of the send step ({_KEY_VALUES_HELP})")
    ] = None,
    variant: Annotated[
        str | None,
        typer.Option(help="the A/B variant, e.g. b (default: the member's assigned variant)"),
    ] = None,
) -> None:
    """Render a message's email (subject, text, HTML) and SMS (with encoding and segments).

    Trigger properties and params the template reads and the options do not give get sample values.
    """
    settings = get_settings()
    folder = settings.templates_dir / template
    try:
        shown = render_preview(
            settings,
            template,
            member,
            locale,
            variant,
            _key_values("--trigger", trigger),
            _key_values("--param", param),
        )
    except UnknownMember:
        err.print(f"[red]no member {escape(repr(member))}[/red] (leave out --member for a sample)")
        raise typer.Exit(1) from None
    except UnknownTemplate:
        if folder.is_dir():
            err.print(
                f"[red]{folder} has no email (*.subject.txt) or SMS (*.sms.txt) templates[/red]"
            )
        else:
            err.print(
                f"[red]no template {escape(repr(template))}[/red] in {settings.templates_dir}"
            )
        raise typer.Exit(1) from None
    except UndefinedError as exc:
        err.print(
            f"[red]{template}: {escape(exc.message or str(exc))}[/red]; give the value with "
            "--trigger name=value or --param name=value"
        )
        raise typer.Exit(1) from exc
    for name, values in (("trigger", shown.trigger), ("params", shown.params)):
        if values:
            shown_values = ", ".join(f"{k}={v!r}" for k, v in sorted(values.items()))
            console.print(f"[dim]{name}: {escape(shown_values)}[/dim]")
    if shown.email is not None:
        email = shown.email
        variant_note = f", variant {shown.variant}" if shown.variant else ""
        title = f"[b]{escape(email.subject)}[/b]  ({email.locale}{variant_note})"
        console.print(Panel(escape(email.text), title=title))
        target = out or settings.effective_output_dir / f"{template}.{email.locale}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(email.html, encoding="utf-8")
        console.print(f"HTML part written to {target}")
    if shown.sms is not None:
        sms = shown.sms
        subtitle = f"{sms.encoding}, {len(sms.body)} characters, {sms.segments} segment(s)"
        console.print(Panel(escape(sms.body), title=f"SMS ({sms.locale})", subtitle=subtitle))
