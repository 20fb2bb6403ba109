"""422 responses that name the field the client got wrong, wherever it sits in the body."""

import re
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException


def _union_branch(body: Any) -> str:
    return "list" if isinstance(body, list) else "object"


def tidy_errors(errors: Sequence[Any], body: Any) -> list[dict[str, Any]]:
    """`EventIn | list[EventIn]` bodies: report only the branch the client sent, untagged.

    Pydantic tags union errors with the member type (`["body", "list[EventIn]", 1, "type"]`) and
    reports the branch the client did not mean too; clients want `["body", 1, "type"]`.
    """
    tidy: list[dict[str, Any]] = []
    branch = _union_branch(body)
    for error in errors:
        loc = list(error.get("loc", ()))
        if len(loc) > 1 and loc[0] == "body" and isinstance(loc[1], str) and "EventIn" in loc[1]:
            tag_branch = "list" if loc[1].startswith("list[") else "object"
            if tag_branch != branch:
                continue
            loc = [loc[0], *loc[2:]]
        # The client's input is not echoed back: it may hold NaN (not JSON) or personal data.
        tidy.append({"type": error.get("type"), "loc": loc, "msg": error.get("msg")})
    return tidy


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = tidy_errors(exc.errors(), exc.body)
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(detail)})


class ErrorOut(BaseModel):
    """The body of every JSON error other than 422: what went wrong, in words."""

    detail: str


_WHY: dict[int, str] = {
    400: "the request is well-formed but cannot be processed as given",
    401: "missing or wrong bearer token (`Authorization: Bearer <token>`)",
    403: "the link or signature is not valid",
    404: "no such resource (or the feature is not configured)",
    405: "method not allowed; `Allow` lists the methods this path accepts",
    409: "conflicts with the current state",
    410: "the link has expired",
    413: "the body is too large",
    415: "unsupported content type",
    503: "not configured on this server (see the detail for the setting)",
}
_AUTH_HEADER = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for JSON errors (`{"detail": "..."}`), so the document says what the
    API really answers."""
    return {
        code: {
            "model": ErrorOut,
            "description": _WHY[code],
            **({"headers": _AUTH_HEADER} if code == 401 else {}),
        }
        for code in codes
    }


def page_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the HTML pages members see (invalid, expired, unknown links)."""
    return {
        code: {"description": _WHY[code], "content": {"text/html": {"schema": {"type": "string"}}}}
        for code in codes
    }


def text_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"description": _WHY[code], "content": {"text/plain": {"schema": {"type": "string"}}}}
        for code in codes
    }


def path_methods(routers: Sequence[APIRouter]) -> list[tuple[re.Pattern[str], set[str]]]:
    """Each route's path pattern and methods, for `Allow` (kept on `app.state` at creation)."""
    return [
        (route.path_regex, set(route.methods or ()))
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
    ]


async def method_not_allowed_handler(request: Request, exc: Exception) -> Response:
    """405 with an `Allow` that lists every method of every route on the path.

    Starlette answers with the methods of the first route whose path matched only, so
    `OPTIONS /unsubscribe/x` said `Allow: GET` although POST works too."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code != 405:
        return await http_exception_handler(request, exc)
    known: list[tuple[re.Pattern[str], set[str]]] = request.app.state.path_methods
    methods = set().union(*(m for pattern, m in known if pattern.match(request.url.path)))
    return JSONResponse(
        {"detail": "Method Not Allowed"},
        status_code=405,
        headers={"Allow": ", ".join(sorted(methods))},
    )
