"""`loyalflow preview`: see a message as a member will, before any journey sends it."""

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from jinja2 import UndefinedError
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from sqlmodel import col, select

from loyalflow.activities.channels.sms import sms_encoding
from loyalflow.activities.rendering import TemplateNotFound, TemplateRenderer
from loyalflow.activities.tracking_links import LinkTracker
from loyalflow.catalog.registry import get_catalog
from loyalflow.catalog.template_check import template_reads
from loyalflow.config import Settings, get_settings
from loyalflow.members.tiers import loyalty_variables
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Enrollment, Member
from loyalflow.models.template_vars import member_context
from loyalflow.models.workflow_io import SendRequest
from loyalflow.rules.loyalty import rules_from
from loyalflow.rules.messaging import policy_from

console = Console()
err = Console(stderr=True)

SAMPLE_MEMBER_ID = "sample"  # `--member sample`: the sample data, like leaving --member out
SAMPLE: dict[str, Any] = {
    "id": "SAMPLE-1",
    "first_name": "Camille",
    "email": "camille@example.com",
    "tier": "Silver",
    "points": 1250,
    "joined_at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
    "first_purchase_at": datetime(2026, 3, 4, 17, 5, tzinfo=UTC),
    "last_purchase_at": datetime(2026, 6, 12, 11, 40, tzinfo=UTC),
    "last_activity_at": datetime(2026, 6, 12, 11, 40, tzinfo=UTC),
    "purchase_count": 3,
    "total_spent": Decimal("187.40"),
    "tags": [],
    "attributes": {},
    "next_tier": "Gold",
    "points_to_next_tier": 750,
    "points_expiring": 320,
    "points_expiring_at": datetime(2027, 3, 31, tzinfo=UTC),
}
# Used when a template reads one of these and the command line does not give it, so that
# `loyalflow preview <template>` works with no options. Trigger values are those of the events
# loyalflow derives (purchase.first, tier.upgraded, member.inactive).
SAMPLE_TRIGGER: dict[str, Any] = {
    "amount": 42.5,
    "points": 42,
    "from": "Silver",
    "to": "Gold",
    "days": 90,
    "last_activity_at": "2026-06-12T11:40:00+00:00",
    # Loyalty mechanics (issue 14)
    "expires_at": "2027-03-31T00:00:00+00:00",
    "needed": 80,
    "next_tier": "Gold",
    "tier": "Silver",
    "role": "referrer",
    "redemption_id": "R-1001",
    "reward_id": "coffee",
    "balance": 1100,
    "lots": 2,
    "on": "2027-01-01",
    "referred_id": "SAMPLE-2",
    "referrer_id": "SAMPLE-1",
}
SAMPLE_PARAMS: dict[str, Any] = {"bonus_points": 200}

_KEY_VALUES_HELP = (
    "key=value, repeatable; values are JSON when they parse (42, 4.5, true), else text"
)


def _member(member_id: str | None) -> tuple[dict[str, Any], str, str]:
    """The template context, locale and timezone: a real member's, or the sample's."""
    if member_id is None or member_id == SAMPLE_MEMBER_ID:
        return SAMPLE, "en", "UTC"
    with session_scope(get_settings().effective_database_url) as session:
        member = session.get(Member, member_id)
        if member is None:
            err.print(f"[red]no member {member_id!r}[/red] (leave out --member for a sample)")
            raise typer.Exit(1)
        ladder = rules_from(get_settings().loyalty_rules_file).tiers
        loyalty = loyalty_variables(session, member, ladder)
        return member_context(member, loyalty), member.locale, member.timezone


def assigned_variant(url: str, member_id: str, template: str) -> str | None:
    """The A/B variant the member was assigned in the latest journey that sends `template`, so
    the preview shows what this member gets (not variant `a` for everyone)."""
    journeys = [
        journey.id
        for journey in get_catalog(get_settings()).journeys.values()
        if any(getattr(step, "template", None) == template for step in journey.steps)
    ]
    if not journeys:
        return None
    with session_scope(url) as session:
        return session.exec(
            select(Enrollment.variant)
            .where(
                Enrollment.member_id == member_id,
                col(Enrollment.journey_id).in_(journeys),
                col(Enrollment.variant).is_not(None),
            )
            .order_by(col(Enrollment.entered_at).desc())
            .limit(1)
        ).first()


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


def _with_samples(given: dict[str, Any], read: set[str], samples: dict[str, Any]) -> dict[str, Any]:
    """What the command line gave, plus sample values for what the template reads and it did not."""
    filled = {key: samples[key] for key in read if key in samples and key not in given}
    return {**filled, **given}


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
    currency = rules_from(settings.loyalty_rules_file).currency
    renderer = TemplateRenderer(
        settings.templates_dir, settings.program_name, currency, settings.program_url
    )
    folder = settings.templates_dir / template
    if not folder.is_dir():
        err.print(f"[red]no template {template!r}[/red] in {settings.templates_dir}")
        raise typer.Exit(1)
    context, member_locale, timezone = _member(member)
    if variant is None and member not in (None, SAMPLE_MEMBER_ID):
        assert member is not None
        variant = assigned_variant(settings.effective_database_url, member, template)
    chosen = locale or member_locale
    reads = template_reads(settings.templates_dir, template)
    extra: dict[str, Any] = {
        "variant": variant,
        "trigger": _with_samples(
            _key_values("--trigger", trigger), reads["trigger"], SAMPLE_TRIGGER
        ),
        "params": _with_samples(_key_values("--param", param), reads["params"], SAMPLE_PARAMS),
    }
    for name in ("trigger", "params"):
        if extra[name]:
            shown_values = ", ".join(f"{k}={v!r}" for k, v in sorted(extra[name].items()))
            console.print(f"[dim]{name}: {escape(shown_values)}[/dim]")
    shown = False
    try:
        if any(folder.glob("*.subject.txt")):
            email = renderer.render_email(template, chosen, context, timezone, **extra)
            variant_note = f", variant {variant}" if variant else ""
            title = f"[b]{escape(email.subject)}[/b]  ({email.locale}{variant_note})"
            console.print(Panel(escape(email.text), title=title))
            target = out or settings.effective_output_dir / f"{template}.{email.locale}.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(email.html, encoding="utf-8")
            console.print(f"HTML part written to {target}")
            shown = True
        try:
            sms = renderer.render_sms(template, chosen, context, timezone, **extra)
        except TemplateNotFound:
            pass
        else:
            body = _as_sent(settings, template, sms.body)
            encoding, segments = sms_encoding(body)
            subtitle = f"{encoding}, {len(body)} characters, {segments} segment(s)"
            console.print(Panel(escape(body), title=f"SMS ({sms.locale})", subtitle=subtitle))
            shown = True
    except UndefinedError as exc:
        err.print(
            f"[red]{template}: {escape(exc.message or str(exc))}[/red]; give the value with "
            "--trigger name=value or --param name=value"
        )
        raise typer.Exit(1) from exc
    if not shown:
        err.print(f"[red]{folder} has no email (*.subject.txt) or SMS (*.sms.txt) templates[/red]")
        raise typer.Exit(1)


def _as_sent(settings: Settings, template: str, body: str) -> str:
    """With LOYALFLOW_TRACKING_SMS_LINKS, links go out shortened: count the segments on that."""
    if not settings.tracking_sms_links or settings.tracking == "off":
        return body
    preview = SendRequest(
        message_id=str(uuid.uuid4()),
        workflow_id="preview",
        journey_id="preview",
        step_id="preview",
        member_id="preview",
        channel="sms",
        template=template,
        topic="preview",
        due_at=datetime.now(UTC),
    )
    tracker = LinkTracker(settings, policy_from(settings.messaging_policy_file))
    return tracker.shorten_sms(preview, body)[0]
