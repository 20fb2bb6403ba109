"""The Segment HTTP tracking API (`/v1/identify`, `track`, `page`, `screen`, `batch`, `import`):
a brand's analytics library (Segment, RudderStack, Jitsu...) pointed at loyalflow just works.

Answers as Segment does, since client libraries rely on it: 200 `{"success": true}`; a batch
stores its good messages and lists the refused ones; 400 when nothing could be taken (with
`code` and `message`, which the libraries log); 401 for a wrong write key.
"""

import json
import logging
import secrets
import zlib
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel

from loyalflow.api.deps import SettingsDep, TemporalDep
from loyalflow.catalog.event_types import event_types_from
from loyalflow.config import Settings
from loyalflow.members.segment_ingest import SegmentConfig, SegmentOutcome, ingest_segment
from loyalflow.members.segment_spec import SegmentProblem
from loyalflow.routing.router import route_events
from loyalflow.rules.loyalty import rules_from

router = APIRouter(prefix="/v1", tags=["segment"])
log = logging.getLogger(__name__)
MAX_BODY_BYTES = 500 * 1024
_basic = HTTPBasic(auto_error=False)


class SegmentError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> JSONResponse:
        body = {"success": False, "code": self.code, "message": self.message, **self.extra}
        headers = {"WWW-Authenticate": 'Basic realm="loyalflow"'} if self.status == 401 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


def write_key(
    settings: SettingsDep, credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)]
) -> None:
    """Segment's scheme: HTTP basic auth, the write key as the user name, no password."""
    if not settings.write_keys:
        raise SegmentError(401, "unauthorized", "the /v1 API is off: set LOYALFLOW_WRITE_KEYS")
    given = credentials.username if credentials is not None else ""
    if not any(
        secrets.compare_digest(given.encode(), key.get_secret_value().encode())
        for key in settings.write_keys
    ):
        raise SegmentError(401, "unauthorized", "missing or unknown write key")


async def _body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise _too_large()
    data = bytes(raw)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        inflate = zlib.decompressobj(wbits=31)
        try:
            data = inflate.decompress(data, MAX_BODY_BYTES + 1)
        except zlib.error as exc:
            raise SegmentError(400, "invalid_request", f"the gzip body is corrupt: {exc}") from exc
        if len(data) > MAX_BODY_BYTES:
            raise _too_large()
    try:
        body = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SegmentError(400, "invalid_json", f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise SegmentError(400, "invalid_request", "the body must be a JSON object")
    return body


def _too_large() -> SegmentError:
    return SegmentError(
        400,
        "request_too_large",
        f"the body is over {MAX_BODY_BYTES // 1024} KB, the limit per request: send smaller "
        "batches",
    )


def _problem(problem: SegmentProblem) -> dict[str, Any]:
    return {
        "index": problem.index,
        "messageId": problem.message_id,
        "field": problem.field,
        "message": problem.message,
    }


async def _ingest(
    request: Request, settings: Settings, temporal: Any, kind: str | None
) -> JSONResponse:
    received_at = datetime.now(UTC)
    try:
        body = await _body(request)
        if kind is None:
            messages = body.get("batch")
            if not isinstance(messages, list):
                raise SegmentError(400, "invalid_request", "batch: must be a list of messages")
        else:
            messages = [body]
        config = SegmentConfig(
            url=settings.effective_database_url,
            rules=rules_from(settings.loyalty_rules_file),
            event_types=event_types_from(settings.events_file),
            name_rule=settings.segment_event_names,
        )
        outcome: SegmentOutcome = await run_in_threadpool(
            ingest_segment,
            config,
            messages,
            kind=kind,
            received_at=received_at,
            batch_sent_at=body.get("sentAt") if kind is None else None,
        )
    except SegmentError as error:
        log.warning("segment %s refused: %s", request.url.path, error.message)
        return error.response()
    routed = await route_events(temporal, settings, [s.event for s in outcome.new_events])
    refused = [_problem(p) for p in outcome.problems if p.index >= 0]
    taken = outcome.accepted + outcome.duplicates + outcome.anonymous
    if refused and not taken:
        first = refused[0]
        return SegmentError(
            400,
            "invalid_request",
            f"{first['field']}: {first['message']}"
            + (f" (message {first['index']})" if kind is None else ""),
            errors=refused,
        ).response()
    return JSONResponse(
        {
            "success": True,
            "accepted": outcome.accepted,
            "duplicates": outcome.duplicates,
            "anonymous": outcome.anonymous,
            "attached": outcome.attached,
            "rejected": refused,
            "routing": "done" if routed else "pending",
        }
    )


class SegmentErrorOut(BaseModel):
    """What Segment's API answers on a refusal, which client libraries log."""

    success: bool = False
    code: str
    message: str
    errors: list[dict[str, Any]] | None = None  # the refused messages of a batch


class SegmentAcceptedOut(BaseModel):
    success: bool = True
    accepted: int
    duplicates: int
    anonymous: int  # kept until the visitor is identified
    attached: int  # earlier anonymous events attached to the member now
    rejected: list[dict[str, Any]]
    routing: str  # "done", or "pending" (the re-router will route them)


_AUTH = [Depends(write_key)]
_DOC = {"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": SegmentAcceptedOut, "description": "stored (a batch lists what it refused)"},
    400: {
        "model": SegmentErrorOut,
        "description": "malformed JSON, a body over 500 KB, or nothing that could be taken",
    },
    401: {
        "model": SegmentErrorOut,
        "description": "missing or unknown write key (HTTP basic auth, the key as user name)",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
}


@router.post("/identify", dependencies=_AUTH, openapi_extra=_DOC, responses=_RESPONSES)
async def identify(request: Request, settings: SettingsDep, temporal: TemporalDep) -> JSONResponse:
    """A member's traits: email, phone, firstName, other traits as attributes."""
    return await _ingest(request, settings, temporal, "identify")


@router.post("/track", dependencies=_AUTH, openapi_extra=_DOC, responses=_RESPONSES)
async def track(request: Request, settings: SettingsDep, temporal: TemporalDep) -> JSONResponse:
    """Signed Up, Order Completed, Order Refunded, or a custom event declared in events.yaml."""
    return await _ingest(request, settings, temporal, "track")


@router.post("/page", dependencies=_AUTH, openapi_extra=_DOC, responses=_RESPONSES)
async def page(request: Request, settings: SettingsDep, temporal: TemporalDep) -> JSONResponse:
    """A page view: a `visit` (channel web)."""
    return await _ingest(request, settings, temporal, "page")


@router.post("/screen", dependencies=_AUTH, openapi_extra=_DOC, responses=_RESPONSES)
async def screen(request: Request, settings: SettingsDep, temporal: TemporalDep) -> JSONResponse:
    """An app screen view: a `visit` (channel app)."""
    return await _ingest(request, settings, temporal, "screen")


@router.post("/batch", dependencies=_AUTH, openapi_extra=_DOC, responses=_RESPONSES)
async def batch(request: Request, settings: SettingsDep, temporal: TemporalDep) -> JSONResponse:
    """`{"batch": [...]}`, each message with its `type`; good ones stored, bad ones listed."""
    return await _ingest(request, settings, temporal, None)


@router.post("/import", dependencies=_AUTH, openapi_extra=_DOC, responses=_RESPONSES)
async def import_(request: Request, settings: SettingsDep, temporal: TemporalDep) -> JSONResponse:
    """Historical messages, as /v1/batch."""
    return await _ingest(request, settings, temporal, None)
