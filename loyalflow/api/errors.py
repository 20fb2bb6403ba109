"""422 responses that name the field the client got wrong, wherever it sits in the body."""

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


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
