"""A template rendered as a member would get it, before any journey sends it: the email's
subject, text and HTML, and the SMS with its encoding and segment count. Shared by
`loyalflow preview` and the console's Templates page; trigger properties and params the
template reads and the caller does not give get sample values."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import col, select

from loyalflow.activities.channels.sms import sms_encoding
from loyalflow.activities.rendering import (
    RenderedEmail,
    TemplateNotFound,
    TemplateRenderer,
)
from loyalflow.activities.tracking_links import LinkTracker
from loyalflow.catalog.registry import get_catalog
from loyalflow.catalog.template_check import template_reads
from loyalflow.config import Settings
from loyalflow.members.tiers import loyalty_variables
from loyalflow.models.db import read_scope
from loyalflow.models.tables import Enrollment, Member
from loyalflow.models.template_vars import member_context
from loyalflow.models.workflow_io import SendRequest
from loyalflow.rules.loyalty import rules_from
from loyalflow.rules.messaging import policy_from

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
# Used when a template reads one of these and the caller does not give it, so that a preview
# works with no options. Trigger values are those of the events loyalflow derives
# (purchase.first, tier.upgraded, member.inactive).
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


class UnknownMember(LookupError):
    pass


class UnknownTemplate(LookupError):
    pass


@dataclass(frozen=True)
class SmsPreview:
    locale: str
    body: str  # as sent: links shortened when LOYALFLOW_TRACKING_SMS_LINKS is on
    encoding: str  # GSM-7 or UCS-2
    segments: int


@dataclass(frozen=True)
class Preview:
    template: str
    variant: str | None
    trigger: dict[str, Any]
    params: dict[str, Any]
    email: RenderedEmail | None
    sms: SmsPreview | None


def renderer_for(settings: Settings) -> TemplateRenderer:
    currency = rules_from(settings.loyalty_rules_file).currency
    return TemplateRenderer(
        settings.templates_dir, settings.program_name, currency, settings.program_url
    )


def template_names(settings: Settings) -> list[str]:
    """The template folders: those with an email (*.subject.txt) or an SMS (*.sms.txt)."""
    root = settings.templates_dir
    return sorted(
        folder.name
        for folder in root.iterdir()
        if folder.is_dir() and (any(folder.glob("*.subject.txt")) or any(folder.glob("*.sms.txt")))
    )


def member_for_preview(
    settings: Settings, member_id: str | None
) -> tuple[dict[str, Any], str, str]:
    """The template context, locale and timezone: a real member's, or the sample's."""
    if member_id is None or member_id == SAMPLE_MEMBER_ID:
        return SAMPLE, "en", "UTC"
    with read_scope(settings.effective_database_url) as session:
        member = session.get(Member, member_id)
        if member is None:
            raise UnknownMember(member_id)
        ladder = rules_from(settings.loyalty_rules_file).tiers
        loyalty = loyalty_variables(session, member, ladder)
        return member_context(member, loyalty), member.locale, member.timezone


def assigned_variant(settings: Settings, member_id: str, template: str) -> str | None:
    """The A/B variant the member was assigned in the latest journey that sends `template`, so
    the preview shows what this member gets (not variant `a` for everyone)."""
    journeys = [
        journey.id
        for journey in get_catalog(settings).journeys.values()
        if any(getattr(step, "template", None) == template for step in journey.steps)
    ]
    if not journeys:
        return None
    with read_scope(settings.effective_database_url) as session:
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


def with_samples(given: dict[str, Any], read: set[str], samples: dict[str, Any]) -> dict[str, Any]:
    """What the caller gave, plus sample values for what the template reads and it did not."""
    filled = {key: samples[key] for key in read if key in samples and key not in given}
    return {**filled, **given}


def render_preview(
    settings: Settings,
    template: str,
    member_id: str | None = None,
    locale: str | None = None,
    variant: str | None = None,
    trigger: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> Preview:
    """Raises UnknownTemplate, UnknownMember, or jinja2's UndefinedError for a value the
    template reads that no one gave."""
    folder = settings.templates_dir / template
    if not template or "/" in template or template.startswith(".") or not folder.is_dir():
        raise UnknownTemplate(template)
    context, member_locale, timezone = member_for_preview(settings, member_id)
    if variant is None and member_id not in (None, SAMPLE_MEMBER_ID):
        assert member_id is not None
        variant = assigned_variant(settings, member_id, template)
    chosen = locale or member_locale
    reads = template_reads(settings.templates_dir, template)
    trigger_values = with_samples(trigger or {}, reads["trigger"], SAMPLE_TRIGGER)
    param_values = with_samples(params or {}, reads["params"], SAMPLE_PARAMS)
    extra: dict[str, Any] = {"variant": variant, "trigger": trigger_values, "params": param_values}
    renderer = renderer_for(settings)
    email = None
    if any(folder.glob("*.subject.txt")):
        email = renderer.render_email(template, chosen, context, timezone, **extra)
    sms = None
    try:
        rendered_sms = renderer.render_sms(template, chosen, context, timezone, **extra)
    except TemplateNotFound:
        pass
    else:
        body = sms_as_sent(settings, template, rendered_sms.body)
        encoding, segments = sms_encoding(body)
        sms = SmsPreview(rendered_sms.locale, body, str(encoding), segments)
    if email is None and sms is None:
        raise UnknownTemplate(template)
    return Preview(template, variant, trigger_values, param_values, email, sms)


def sms_as_sent(settings: Settings, template: str, body: str) -> str:
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
