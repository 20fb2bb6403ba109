"""The remote codec endpoint: the Temporal Web UI and CLI decode encrypted payloads through it.

Point the Web UI's "Codec Server" setting (or `temporal ... --codec-endpoint`) at
`<api>/codec`: they POST `{"payloads": [...]}` (Temporal's proto JSON form: base64 metadata values
and data) to `/codec/decode` or `/codec/encode` and get the same shape back. Only staff holding
`LOYALFLOW_CODEC_TOKEN` may use it: a decoded payload can hold contact details.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict, Field
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from loyalflow.api.deps import SettingsDep, TemporalDep, same_secret
from loyalflow.api.errors import error_responses
from loyalflow.security.codec import CodecError, EncryptionCodec

PREFIX = "/codec"
router = APIRouter(prefix=PREFIX, tags=["codec"])
_bearer = HTTPBearer(auto_error=False)


class PayloadJson(BaseModel):
    """One Temporal payload in proto JSON form."""

    model_config = ConfigDict(extra="allow")  # newer proto fields pass through to the parser

    metadata: dict[str, str] = Field(
        default_factory=dict, description="metadata values, base64", examples=[{}]
    )
    data: str = Field(default="", description="payload bytes, base64")


class PayloadsJson(BaseModel):
    payloads: list[PayloadJson]


def require_codec(
    settings: SettingsDep,
    temporal: TemporalDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> EncryptionCodec:
    """The API's own payload codec, for callers holding LOYALFLOW_CODEC_TOKEN."""
    codec = temporal.data_converter.payload_codec
    if not isinstance(codec, EncryptionCodec):
        raise HTTPException(
            status_code=status.HTTP_404_NOT_FOUND,
            detail="the payload codec is off (LOYALFLOW_CODEC_KEYS is not set): payloads in "
            "Temporal are plain JSON and need no decoding",
        )
    if settings.codec_token is None:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the codec endpoint is disabled until LOYALFLOW_CODEC_TOKEN is set",
        )
    if credentials is None or not same_secret(credentials.credentials, settings.codec_token):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong bearer token (LOYALFLOW_CODEC_TOKEN)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return codec


CodecDep = Annotated[EncryptionCodec, Depends(require_codec)]


def _parse(body: PayloadsJson) -> list[Payload]:
    try:
        parsed = json_format.ParseDict(body.model_dump(), Payloads())
    except json_format.ParseError as exc:
        # The same 422 shape as every other validation error (the document says so).
        raise RequestValidationError(
            [
                {
                    "loc": ["body", "payloads"],
                    "msg": f"not Temporal payloads in proto JSON form: {exc}",
                    "type": "value_error",
                }
            ]
        ) from exc
    return list(parsed.payloads)


def _render(payloads: list[Payload]) -> dict[str, Any]:
    rendered: dict[str, Any] = json_format.MessageToDict(Payloads(payloads=payloads))
    rendered.setdefault("payloads", [])
    return rendered


@router.post("/encode", response_model=PayloadsJson, responses=error_responses(400, 401, 404, 503))
async def encode(body: PayloadsJson, codec: CodecDep) -> dict[str, Any]:
    """Encrypts payloads with the active key."""
    return _render(await codec.encode(_parse(body)))


@router.post("/decode", response_model=PayloadsJson, responses=error_responses(400, 401, 404, 503))
async def decode(body: PayloadsJson, codec: CodecDep) -> dict[str, Any]:
    """Decrypts payloads with the key each one names; unencrypted payloads come back unchanged."""
    try:
        decoded = await codec.decode(_parse(body))
    except CodecError as exc:
        raise HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail=str(exc)) from exc
    return _render(decoded)


class CodecCORSMiddleware:
    """CORS for the codec endpoint only: the Web UI calls it from its own origin.

    The rest of the API stays same-origin. The UI sends `content-type` and `x-namespace`, plus
    `authorization` when it passes a token; with "include cross-origin credentials" on, cookies.
    """

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=["authorization", "content-type", "x-namespace"],
            allow_credentials=True,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(f"{PREFIX}/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
