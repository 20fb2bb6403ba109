"""Sign in and out. The sign-in form has its own CSRF token (there is no session yet): a
random value in a cookie, and the same value signed with the deployment's secret key in the form,
so another site cannot sign a browser in under the attacker's account."""

import secrets

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadData, URLSafeTimedSerializer

from loyalflow.config import Settings
from loyalflow.console.accounts import authenticate
from loyalflow.console.rendering import PREFIX, page
from loyalflow.console.sessions import COOKIE, end_session, find_session, start_session
from loyalflow.console.web import (
    CSRF_FIELD,
    FormRefused,
    SettingsDep,
    checked_form,
    client_ip,
    read_form,
)
from loyalflow.security.tokens import secret_key

router = APIRouter()
LOGIN_COOKIE = "loyalflow_console_login"
LOGIN_SECONDS = 3600
ALL_ROLES = ("admin", "marketer", "support")
REFUSALS = {
    "missing": "Enter your user name and password.",
    "throttled": "Too many failed sign-ins. Wait a few minutes and try again.",
    "wrong": "Wrong user name or password.",
}


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(settings), salt="loyalflow.console.login")


def secure_cookies(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


def _safe_next(target: str) -> str:
    # Only a page of the console: never another site (an open redirect), never `//host`.
    if target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


def _login_page(
    request: Request, settings: Settings, next_url: str, error: str | None, status: int
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(24)
    response = page(
        request,
        "login.html",
        None,
        status,
        login_token=_serializer(settings).dumps(nonce),
        next_url=_safe_next(next_url),
        error=error,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=LOGIN_SECONDS,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, settings: SettingsDep, next: str = PREFIX + "/") -> Response:
    viewer = await run_in_threadpool(find_session, settings, request.cookies.get(COOKIE))
    if viewer is not None:
        return RedirectResponse(_safe_next(next), 303)
    return _login_page(request, settings, next, None, 200)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, settings: SettingsDep) -> Response:
    form = await read_form(request)
    nonce = request.cookies.get(LOGIN_COOKIE)
    try:
        signed = _serializer(settings).loads(form.get(CSRF_FIELD), max_age=LOGIN_SECONDS)
    except BadData:
        signed = None
    if nonce is None or signed != nonce:
        raise FormRefused(403, "missing or wrong CSRF token")
    next_url = form.get("next", PREFIX + "/")
    name, password = form.get("name"), form.get("password")
    if not name or not password:
        return _login_page(request, settings, next_url, REFUSALS["missing"], 400)
    outcome = await run_in_threadpool(authenticate, settings, name, password, client_ip(request))
    if outcome.throttled:
        return _login_page(request, settings, next_url, REFUSALS["throttled"], 429)
    if outcome.user is None:
        return _login_page(request, settings, next_url, REFUSALS["wrong"], 401)
    token = await run_in_threadpool(start_session, settings, outcome.user)
    response = RedirectResponse(_safe_next(next_url), 303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(settings.console_session_hours * 3600),
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request, settings: SettingsDep) -> Response:
    viewer, _ = await checked_form(*ALL_ROLES)(request)
    await run_in_threadpool(end_session, settings, viewer, client_ip(request))
    response = RedirectResponse(PREFIX + "/login", 303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response
