"""The home page (the dashboard for admins and marketers; for support, what their role can
open), the language choice, and the audit log."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from loyalflow.console.accounts import set_locale
from loyalflow.console.i18n import LOCALES
from loyalflow.console.rendering import PREFIX, page
from loyalflow.console.routes.dashboard import DASHBOARD_ROLES, dashboard_page
from loyalflow.console.sessions import Viewer
from loyalflow.console.web import Form, SettingsDep, checked_form, client_ip, role
from loyalflow.models.console_tables import AuditEntry
from loyalflow.models.db import read_scope

router = APIRouter()
ALL_ROLES = ("admin", "marketer", "support")
Anyone = Annotated[Viewer, Depends(role(*ALL_ROLES))]
Admin = Annotated[Viewer, Depends(role("admin"))]
AUDIT_PAGE = 100


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, viewer: Anyone, settings: SettingsDep) -> HTMLResponse:
    if viewer.user.role in DASHBOARD_ROLES:
        return await dashboard_page(request, viewer, settings, dict(request.query_params))
    return page(request, "home.html", viewer)


@router.post("/language")
async def choose_language(
    request: Request,
    acting: Annotated[tuple[Viewer, Form], Depends(checked_form(*ALL_ROLES))],
    settings: SettingsDep,
) -> Response:
    viewer, form = acting
    choice = form.get("locale")
    locale = choice if choice in LOCALES else None  # anything else: follow the browser
    await asyncio.to_thread(
        set_locale, settings.effective_database_url, viewer.user, locale, client_ip(request)
    )
    return RedirectResponse(PREFIX + "/", 303)


def _audit_page(url: str, before: int | None) -> list[AuditEntry]:
    statement = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(AUDIT_PAGE + 1)
    if before is not None:
        statement = statement.where(col(AuditEntry.id) < before)
    with read_scope(url) as session:
        return list(session.exec(statement))


@router.get("/audit", response_class=HTMLResponse)
async def audit_log(
    request: Request, viewer: Admin, settings: SettingsDep, before: int | None = None
) -> HTMLResponse:
    rows = await asyncio.to_thread(_audit_page, settings.effective_database_url, before)
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    next_url = f"{PREFIX}/audit?before={rows[-1].id}" if more and rows else None
    return page(request, "audit.html", viewer, rows=rows, next_url=next_url)
