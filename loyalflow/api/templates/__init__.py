"""The pages members reach from links in messages, and the SMS keyword replies, in each locale.

`<locale>/<page>.html` and `<locale>/<reply>.txt`, chosen `fr-CA` -> `fr` -> `en`. HTML is
autoescaped: the first name and topics come from data that members and marketers control.
"""

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

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


def pick_locale(name: str, *preferences: str | None) -> str:
    """The first preference (then its language, then `en`) that has the template `name`."""
    for preference in preferences:
        if not preference:
            continue
        for candidate in locale_candidates(preference):
            if (TEMPLATES_DIR / candidate / name).is_file():
                return candidate
    return "en"


def accepted_languages(header: str | None) -> list[str]:
    """`Accept-Language` tags in the order given (browsers list them by preference); used when
    the link is invalid and the member, hence the locale, is unknown."""
    if not header:
        return []
    return [part.split(";")[0].strip() for part in header.split(",") if part.strip()]


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
