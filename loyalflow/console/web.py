"""What every console request needs: the settings, the signed-in viewer and their role, and
forms whose CSRF token was checked. The app (app.py) turns the exceptions here into pages."""

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from temporalio.client import Client

from loyalflow.config import Settings
from loyalflow.console.sessions import COOKIE, Viewer, find_session, same_token

MAX_FORM_BYTES = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Exception):
    pass


class RoleRefused(Exception):
    def __init__(self, role: str) -> None:
        super().__init__(role)
        self.role = role


class FormRefused(Exception):
    """A POST without a valid CSRF token, or not a form: 403/415, and nothing changes."""

    def __init__(self, status_code: int, why: str) -> None:
        super().__init__(why)
        self.status_code = status_code
        self.why = why


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def temporal_of(request: Request) -> Client:
    provider: Callable[[], Client] = request.app.state.temporal
    return provider()


def wants_fragment(request: Request) -> bool:
    """An htmx request for part of a page; not a history restore, which needs the whole page."""
    headers = request.headers
    return headers.get("hx-request") == "true" and not headers.get("hx-history-restore-request")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def viewer_of(request: Request) -> Viewer:
    token = request.cookies.get(COOKIE)
    viewer = await run_in_threadpool(find_session, settings_of(request), token)
    if viewer is None:
        raise SignInRequired()
    return viewer


def role(*roles: str) -> Callable[[Request], Awaitable[Viewer]]:
    """A dependency: the viewer, if their role is one of `roles` (server-side, every request)."""

    async def allowed(request: Request) -> Viewer:
        viewer = await viewer_of(request)
        if viewer.user.role not in roles:
            raise RoleRefused(viewer.user.role)
        return viewer

    return allowed


class Form:
    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    def get(self, name: str, default: str = "") -> str:
        values = self._fields.get(name)
        return values[0].strip() if values else default


async def read_form(request: Request) -> Form:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise FormRefused(415, f"expected {FORM_TYPE}")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise FormRefused(413, "form too large")
    return Form(parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def checked_form(*roles: str) -> Callable[[Request], Awaitable[tuple[Viewer, Form]]]:
    """A dependency for every POST: the viewer (with one of `roles`) and their form, whose
    CSRF token (field `csrf_token`, or the `X-CSRF-Token` header htmx sends) matches their
    session's."""
    viewer_with_role = role(*roles)

    async def checked(request: Request) -> tuple[Viewer, Form]:
        viewer = await viewer_with_role(request)
        form = await read_form(request)
        given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
        if not same_token(given, viewer.csrf_token):
            raise FormRefused(403, "missing or wrong CSRF token")
        return viewer, form

    return checked


SettingsDep = Annotated[Settings, Depends(settings_of)]
TemporalDep = Annotated[Client, Depends(temporal_of)]
