"""Users (admin only): the list, add a user, disable one; audited like `loyalflow users`."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from loyalflow.console.accounts import AccountError, add_user, disable_user, list_users
from loyalflow.console.passwords import WeakPassword
from loyalflow.console.rendering import PREFIX, page
from loyalflow.console.sessions import Viewer
from loyalflow.console.user import ROLES
from loyalflow.console.web import Form, SettingsDep, checked_form, role

router = APIRouter()
Admin = Annotated[Viewer, Depends(role("admin"))]
AdminForm = Annotated[tuple[Viewer, Form], Depends(checked_form("admin"))]
MISMATCH = "The two passwords differ."


async def _users_page(
    request: Request, viewer: Viewer, url: str, problem: str | None = None, status: int = 200
) -> HTMLResponse:
    users = await asyncio.to_thread(list_users, url)
    return page(request, "users.html", viewer, status, users=users, roles=ROLES, problem=problem)


@router.get("/users", response_class=HTMLResponse)
async def users(request: Request, viewer: Admin, settings: SettingsDep) -> HTMLResponse:
    return await _users_page(request, viewer, settings.effective_database_url)


@router.post("/users")
async def add(request: Request, acting: AdminForm, settings: SettingsDep) -> Response:
    viewer, form = acting
    url = settings.effective_database_url
    password = form.get("password")
    if password != form.get("password_again"):
        return await _users_page(request, viewer, url, MISMATCH, 400)
    try:
        await asyncio.to_thread(
            add_user, url, form.get("name"), form.get("role"), password, viewer.user.name
        )
    except (AccountError, WeakPassword) as problem:
        return await _users_page(request, viewer, url, str(problem), 400)
    return RedirectResponse(PREFIX + "/users", 303)


@router.post("/users/{name}/disable")
async def disable(name: str, acting: AdminForm, settings: SettingsDep) -> Response:
    viewer, _ = acting
    try:
        await asyncio.to_thread(
            disable_user, settings.effective_database_url, name, viewer.user.name
        )
    except AccountError:
        return RedirectResponse(PREFIX + "/users", 303)
    return RedirectResponse(PREFIX + "/users", 303)
