"""Templates (marketers and admins): preview any template for a chosen member (or the sample
data) and locale — the email's HTML in a sandboxed frame served with its own strict policy, the
text part, the SMS with its encoding and segments — and send a test to an address through the
real email channel, marked as a test in the ledger and audited."""

import asyncio
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import UndefinedError

from loyalflow.console.rendering import PREFIX, page
from loyalflow.console.security import PREVIEW_MARKER
from loyalflow.console.sessions import Viewer
from loyalflow.console.test_sends import BadTestAddress, NoEmailPart, send_test
from loyalflow.console.web import Form, SettingsDep, checked_form, client_ip, role
from loyalflow.support.template_preview import (
    Preview,
    UnknownMember,
    UnknownTemplate,
    render_preview,
    template_names,
)

router = APIRouter()
Marketing = Annotated[Viewer, Depends(role("admin", "marketer"))]
MarketingForm = Annotated[tuple[Viewer, Form], Depends(checked_form("admin", "marketer"))]
SENT = {"sent": "The test was sent.", "failed": "The test could not be sent."}


def _render(settings: SettingsDep, template: str, member: str, locale: str) -> Preview:
    if locale and locale not in settings.template_locales:
        raise ValueError("locale")
    return render_preview(settings, template, member or None, locale or None)


def _query(template: str, member: str, locale: str, **more: str) -> str:
    values = {"template": template, "member": member, "locale": locale, **more}
    return urlencode({k: v for k, v in values.items() if v})


@router.get("/templates", response_class=HTMLResponse)
async def templates(
    request: Request,
    viewer: Marketing,
    settings: SettingsDep,
    template: str = "",
    member: str = "",
    locale: str = "",
    sent: str = "",
    to: str = "",
) -> HTMLResponse:
    names = await asyncio.to_thread(template_names, settings)
    preview: Preview | None = None
    problem: str | None = None
    field: str | None = None
    status = 200
    if template:
        try:
            preview = await asyncio.to_thread(_render, settings, template, member, locale)
        except UnknownTemplate:
            problem, field, status = "No such template.", "template", 404
        except UnknownMember:
            problem, field, status = "No such member.", "member", 404
        except ValueError:
            problem, field, status = "Not a locale of the templates.", "locale", 400
        except UndefinedError as exc:
            problem, field, status = "The template reads a value no one gave.", exc.message, 400
    return page(
        request,
        "templates.html",
        viewer,
        status,
        names=names,
        locales=settings.template_locales,
        chosen={"template": template, "member": member, "locale": locale},
        preview=preview,
        frame_url=f"{PREFIX}/templates/preview.html?{_query(template, member, locale)}",
        problem=problem,
        field=field,
        sent=SENT.get(sent),
        to=to,
    )


@router.get("/templates/preview.html", response_class=HTMLResponse)
async def email_html(
    viewer: Marketing, settings: SettingsDep, template: str, member: str = "", locale: str = ""
) -> HTMLResponse:
    """The email's HTML alone, for the page's sandboxed frame (see security.py)."""
    try:
        preview = await asyncio.to_thread(_render, settings, template, member, locale)
    except (UnknownTemplate, UnknownMember):
        raise HTTPException(404, "no such template or member") from None
    except (ValueError, UndefinedError):
        raise HTTPException(400, "cannot render this template") from None
    if preview.email is None:
        raise HTTPException(404, "this template has no email")
    return HTMLResponse(preview.email.html, headers={PREVIEW_MARKER: "1"})


@router.post("/templates/test")
async def test_send(request: Request, acting: MarketingForm, settings: SettingsDep) -> Response:
    viewer, form = acting
    template, member, locale = form.get("template"), form.get("member"), form.get("locale")
    to = form.get("to")
    for name, value in (("template", template), ("member", member), ("to", to)):
        if not value:
            return page(request, "error.html", viewer, 400, title="Missing field", field=name)
    if locale and locale not in settings.template_locales:
        return page(request, "error.html", viewer, 400, title="Invalid field", field="locale")
    try:
        result = await send_test(
            settings, template, member, locale or None, to, viewer.user.name, client_ip(request)
        )
    except BadTestAddress:
        return page(request, "error.html", viewer, 400, title="Invalid field", field="to")
    except (UnknownTemplate, NoEmailPart):
        return page(request, "error.html", viewer, 404, title="No such template", field="template")
    except UnknownMember:
        return page(request, "error.html", viewer, 404, title="No such member", field="member")
    except UndefinedError:
        return page(request, "error.html", viewer, 400, title="Invalid field", field="template")
    query = _query(template, member, locale, sent=result.status, to=to)
    return RedirectResponse(f"{PREFIX}/templates?{query}", 303)
