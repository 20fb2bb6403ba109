"""Message rendering: sandboxed Jinja2, strict variables, locale fallback, Babel formatting."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency as babel_format_currency
from babel.numbers import format_decimal
from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

FALLBACK_LOCALE = "en"
PREVIEW_LINKS = {"unsubscribe": "#unsubscribe", "preferences": "#preferences"}
_GSM_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " "})


def _parse_iso(value: str) -> date | datetime:
    if len(value) == 10:
        return date.fromisoformat(value)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class TemplateNotFound(LookupError):
    pass


@dataclass(frozen=True)
class RenderedSms:
    locale: str
    body: str


@dataclass(frozen=True)
class RenderedEmail:
    locale: str
    subject: str
    text: str
    html: str


def locale_candidates(locale: str | None) -> list[str]:
    """`fr-CA` -> [`fr-CA`, `fr`, `en`]: the most specific translation that exists wins."""
    candidates: list[str] = []
    if locale:
        tag = locale.replace("_", "-")
        parts = tag.split("-")
        candidates += ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]
    if FALLBACK_LOCALE not in candidates:
        candidates.append(FALLBACK_LOCALE)
    return candidates


def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(FALLBACK_LOCALE)


class TemplateRenderer:
    """Renders `templates/<message>/<locale>.{subject.txt,txt,html}` and `<locale>.sms.txt`.

    Templates see `member`, `locale`, `program` (`name`, `currency`, `url`), `variant` (the journey's A/B
    variant or None), `trigger` (the properties of the event that started the journey), `params`
    (the send step's own params) and the Babel helpers; emails also `links` and `footer_locale`.
    """

    def __init__(
        self,
        templates_dir: Path,
        program_name: str,
        currency: str = "EUR",
        program_url: str = "https://example.com",
    ) -> None:
        self.templates_dir = templates_dir
        self.program_name = program_name
        self.currency = currency  # the loyalty rules' currency: `program.currency`
        self.program_url = program_url  # LOYALFLOW_PROGRAM_URL: `program.url`
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(templates_dir)),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            keep_trailing_newline=False,
        )

    def resolve_locale(self, template: str, locale: str | None, part: str = "subject.txt") -> str:
        for candidate in locale_candidates(locale):
            if (self.templates_dir / template / f"{candidate}.{part}").is_file():
                return candidate
        raise TemplateNotFound(
            f"template {template!r} has no {part} for {locale!r} or its fallbacks (down to 'en')"
        )

    def render_sms(
        self,
        template: str,
        locale: str | None,
        member: dict[str, Any],
        timezone: str,
        *,
        variant: str | None = None,
        trigger: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> RenderedSms:
        chosen = self.resolve_locale(template, locale, "sms.txt")
        context = self._context(chosen, member, timezone, variant, trigger, params)
        body = self._render(f"{template}/{chosen}.sms.txt", context)
        # Babel's French numbers use (narrow) no-break spaces, which GSM-7 lacks: one of them
        # would switch the whole SMS to UCS-2 and triple its segments.
        return RenderedSms(locale=chosen, body=body.strip().translate(_GSM_SPACES))

    def render_email(
        self,
        template: str,
        locale: str | None,
        member: dict[str, Any],
        timezone: str,
        links: dict[str, str] | None = None,
        *,
        variant: str | None = None,
        trigger: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> RenderedEmail:
        """`links`: the member's signed `unsubscribe` and `preferences` URLs (placeholders in
        previews)."""
        chosen = self.resolve_locale(template, locale)
        footer_locale = (
            chosen
            if (self.templates_dir / "_layouts" / f"footer.{chosen}.txt").is_file()
            else FALLBACK_LOCALE
        )
        context = {
            **self._context(chosen, member, timezone, variant, trigger, params),
            "links": links or PREVIEW_LINKS,
            "footer_locale": footer_locale,
        }
        subject = self._render(f"{template}/{chosen}.subject.txt", context)
        subject = " ".join(subject.split())  # a header must be one line
        text = self._render(f"{template}/{chosen}.txt", context).strip()
        footer = self._render(f"_layouts/footer.{footer_locale}.txt", context).strip()
        text = f"{text}\n\n{footer}\n"
        html = self._render(f"{template}/{chosen}.html", {**context, "subject": subject})
        return RenderedEmail(locale=chosen, subject=subject, text=text, html=html)

    def _render(self, name: str, context: dict[str, Any]) -> str:
        return self.env.get_template(name).render(context)

    def _context(
        self,
        locale: str,
        member: dict[str, Any],
        timezone: str,
        variant: str | None,
        trigger: Mapping[str, Any] | None,
        params: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        babel_locale = _babel_locale(locale)
        zone = ZoneInfo(timezone)

        def format_date(value: date | datetime | str | None, format: str = "long") -> str:
            if value is None or value == "":
                return ""
            if isinstance(value, str):  # trigger properties carry dates as ISO 8601 strings
                value = _parse_iso(value)
            if isinstance(value, datetime):
                value = value.astimezone(zone).date()
            return babel_format_date(value, format=format, locale=babel_locale)

        def format_number(value: float | int | Decimal | None) -> str:
            return "" if value is None else format_decimal(value, locale=babel_locale)

        def format_money(
            value: float | Decimal | str, currency: str | None = None, cents: bool = True
        ) -> str:
            """`cents=False` leaves out the decimals of a whole amount ("a €10 voucher")."""
            # Through `str`, so a JSON float such as 42.5 prints as 42.50 and not its binary value.
            amount = Decimal(str(value))
            code = currency or self.currency
            if cents or amount != amount.to_integral_value():
                return babel_format_currency(amount, code, locale=babel_locale)
            standard = babel_locale.currency_formats["standard"].pattern
            whole = re.sub(r"\.0+", "", standard)
            return babel_format_currency(
                amount, code, format=whole, locale=babel_locale, currency_digits=False
            )

        return {
            "member": member,
            "locale": locale,
            "program": {
                "name": self.program_name,
                "currency": self.currency,
                "url": self.program_url,
            },
            "variant": variant,
            "trigger": dict(trigger or {}),
            "params": dict(params or {}),
            "format_date": format_date,
            "format_number": format_number,
            "format_money": format_money,
        }
