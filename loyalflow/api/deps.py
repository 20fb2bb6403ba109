"""Shared request dependencies: settings, the Temporal client, bearer-token auth."""

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from temporalio.client import Client

from loyalflow.config import Settings

_bearer = HTTPBearer(auto_error=False)


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


def require_token(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """With LOYALFLOW_API_TOKEN set, every endpoint that writes or returns member data needs
    `Authorization: Bearer <token>` (only /healthz and the docs stay open)."""
    if settings.api_token is None:
        return
    if credentials is None or not same_secret(credentials.credentials, settings.api_token):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


def same_secret(given: str, expected: SecretStr) -> bool:
    """Constant-time comparison (the time taken says nothing about how much of the token was
    right). Compared as UTF-8 bytes: `compare_digest` refuses non-ASCII `str`, and a header may
    carry any Latin-1 character."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"),
        expected.get_secret_value().encode("utf-8", "surrogateescape"),
    )


SettingsDep = Annotated[Settings, Depends(get_settings)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
TokenDep = Depends(require_token)
