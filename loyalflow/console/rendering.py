"""Pages from the console's Jinja2 templates, autoescaped (member names are user input), in the
viewer's language, with the navigation their role allows."""

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from loyalflow.console.i18n import choose_locale, translator
from loyalflow.console.masking import shown_as
from loyalflow.console.sessions import Viewer

PREFIX = "/console"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
# (path under /console, label, roles that may open it)
NAVIGATION: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/members", "Members", ("admin", "support", "marketer")),
    ("/messages", "Messages", ("admin", "support", "marketer")),
    ("/journeys", "Journeys", ("admin", "marketer")),
    ("/templates", "Templates", ("admin", "marketer")),
    ("/simulate", "Simulate", ("admin", "marketer")),
    ("/users", "Users", ("admin",)),
    ("/audit", "Audit log", ("admin",)),
)


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=1)
def asset_version() -> str:
    """A digest of the static files: in asset URLs, so a long cache never serves stale files."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def static_url(name: str) -> str:
    return f"{PREFIX}/static/{name}?v={asset_version()}"


def locale_of(request: Request, viewer: Viewer | None) -> str:
    choice = viewer.user.locale if viewer else None
    return choose_locale(choice, request.headers.get("accept-language"))


def render(request: Request, template: str, viewer: Viewer | None, **context: Any) -> str:
    locale = locale_of(request, viewer)
    role = viewer.user.role if viewer else None
    nav = [(PREFIX + path, label) for path, label, roles in NAVIGATION if role in roles]
    return (
        environment()
        .get_template(template)
        .render(
            _=translator(locale),
            locale=locale,
            viewer=viewer,
            csrf_token=viewer.csrf_token if viewer else "",
            nav=nav,
            current=request.url.path,
            root=PREFIX,
            static=static_url,
            # Free text that may hold an address (bounce reasons...): masked for marketers.
            shown=shown_as(role or ""),
            **context,
        )
    )


def page(
    request: Request,
    template: str,
    viewer: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return HTMLResponse(render(request, template, viewer, **context), status_code)
