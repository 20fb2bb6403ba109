"""The pages members reach from links in messages, and the SMS keyword replies, in each locale.

`<locale>/<page>.html` and `<locale>/<reply>.txt`, chosen `fr-CA` -> `fr` -> `en`. HTML is
autoescaped: the first name and topics come from data that members and marketers control.

No template path is ever built from a request value: `Accept-Language` and a member's locale are
matched against the locales found in this folder at start, and only a matched name is used.
"""

from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import negotiate_locale
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from loyalflow.activities.rendering import locale_candidates

TEMPLATES_DIR = Path(__file__).resolve().parent
# The token in a page's URL is a capability: keep it out of Referer headers, caches and search
# engines; the pages need no script and post only to themselves.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=1)
def shipped_templates() -> dict[str, frozenset[str]]:
    """Template names by locale folder, as shipped (`{"en": {"unsubscribe.html", ...}}`)."""
    return {
        folder.name: frozenset(f.name for f in folder.iterdir() if f.is_file())
        for folder in sorted(TEMPLATES_DIR.iterdir())
        if folder.is_dir() and not folder.name.startswith(("_", "."))
    }


def pick_locale(name: str, *preferences: str | None) -> str:
    """The first preference (then its language, then `en`) that ships the template `name`."""
    shipped = shipped_templates()
    for preference in preferences:
        if not preference:
            continue
        for candidate in locale_candidates(preference):
            if name in shipped.get(candidate, ()):
                return candidate
    return "en"


def accepted_languages(header: str | None) -> list[str]:
    """The shipped locale that best matches `Accept-Language` (RFC 9110 language ranges with
    q-values, parsed by Werkzeug; RFC 4647 lookup by Babel, so `en-GB;q=0.9` beats `fr;q=0.5`),
    or none; used when the link is invalid and the member, hence the locale, is unknown.
    Anything that is not a shipped locale is never returned."""
    if not header:
        return []
    ranges = [value for value, quality in parse_accept_header(header, LanguageAccept) if quality]
    best = negotiate_locale(ranges, sorted(shipped_templates()), sep="-", aliases={})
    return [best] if best else []


def render(name: str, locale: str, **context: Any) -> str:
    return _environment().get_template(f"{locale}/{name}").render(locale=locale, **context)


def page(
    name: str, *preferences: str | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    locale = pick_locale(name, *preferences)
    return HTMLResponse(render(name, locale, **context), status_code, headers=PAGE_HEADERS)


def mask_email(email: str | None) -> str | None:
    """`alice@example.com` -> `a•••@example.com`: enough to recognise, too little to harvest."""
    if not email or "@" not in email:
        return None
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}•••@{domain}"
