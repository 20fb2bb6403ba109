"""Signed, expiring tokens for the links in messages: one-click unsubscribe and the preference page.

A token is the capability: whoever holds the link may act for that member on that page, so the
payload is signed (HMAC, by `itsdangerous`) and carries its issue time. Each purpose signs with
its own salt, so an unsubscribe token can never be replayed as a preference token or vice versa.

Workers sign (when they render a message) and the API verifies, so every process of one
deployment must use the same key: `LOYALFLOW_SECRET_KEY`, or else a key generated once under
`LOYALFLOW_HOME`, which is only shared by processes on the same host.
"""

import contextlib
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from loyalflow.config import Settings
from loyalflow.models.api import ConsentChange

log = logging.getLogger(__name__)

Purpose = Literal["unsubscribe", "preferences"]
SECRET_KEY_FILE = "secret.key"
_SALT_PREFIX = "loyalflow.link."
_key_lock = threading.Lock()


class TokenError(ValueError):
    """The token cannot be used; the subclasses say why."""


class TokenTampered(TokenError):
    """Not signed by us, altered, truncated, or made for another purpose."""


class TokenExpired(TokenError):
    """Authentic, but older than `token_ttl_days`."""


@dataclass(frozen=True)
class TokenPayload:
    purpose: Purpose
    member_id: str
    channel: str | None = None  # unsubscribe only
    topic: str | None = None  # unsubscribe only
    message_id: str | None = None  # unsubscribe only: the message the link came from, if known


def make_token(
    settings: Settings,
    purpose: Purpose,
    member_id: str,
    *,
    channel: str | None = None,
    topic: str | None = None,
    message_id: str | None = None,
) -> str:
    # Short keys: the token goes into a URL, and List-Unsubscribe headers are folded when long.
    data: dict[str, str] = {"m": member_id}
    if purpose == "unsubscribe":
        if channel is None or topic is None:
            raise ValueError("an unsubscribe token needs a channel and a topic")
        # Checked when the worker signs, not months later when the member clicks.
        ConsentChange.model_validate({"channel": channel, "topic": topic, "status": "revoked"})
        data |= {"c": channel, "t": topic}
        if message_id:
            data["i"] = message_id
    return _serializer(settings, purpose).dumps(data)


def read_token(settings: Settings, token: str, purpose: Purpose) -> TokenPayload:
    """Verifies the signature, then the age; raises TokenTampered or TokenExpired."""
    try:
        data: Any = _serializer(settings, purpose).loads(
            token, max_age=settings.token_ttl_days * 86400
        )
    except SignatureExpired as exc:
        # itsdangerous checks the signature before the age: an expired token is authentic.
        raise TokenExpired("the link has expired") from exc
    except BadData as exc:
        raise TokenTampered("the link is not valid") from exc
    if not isinstance(data, dict) or not isinstance(data.get("m"), str):
        raise TokenTampered("the link is not valid")
    if purpose == "preferences":
        return TokenPayload(purpose, data["m"])
    channel, topic = data.get("c"), data.get("t")
    if not isinstance(channel, str) or not isinstance(topic, str):
        raise TokenTampered("the link is not valid")
    message_id = data.get("i")
    return TokenPayload(
        purpose,
        data["m"],
        channel=channel,
        topic=topic,
        message_id=message_id if isinstance(message_id, str) else None,
    )


def unsubscribe_url(
    settings: Settings, member_id: str, channel: str, topic: str, message_id: str | None = None
) -> str:
    """The link for the message body and for `List-Unsubscribe` (RFC 8058 one-click: the same
    URL answers POST `List-Unsubscribe=One-Click`)."""
    token = make_token(
        settings, "unsubscribe", member_id, channel=channel, topic=topic, message_id=message_id
    )
    return f"{settings.public_url.rstrip('/')}/unsubscribe/{token}"


def preferences_url(settings: Settings, member_id: str) -> str:
    token = make_token(settings, "preferences", member_id)
    return f"{settings.public_url.rstrip('/')}/preferences/{token}"


def _serializer(settings: Settings, purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(settings), salt=_SALT_PREFIX + purpose)


def secret_key(settings: Settings) -> str:
    if settings.secret_key is not None:
        key = settings.secret_key.get_secret_value()
        if not key:
            raise ValueError("LOYALFLOW_SECRET_KEY is set but empty")
        return key
    return _home_key(settings.home)


@lru_cache(maxsize=8)
def _home_key(home: Path) -> str:
    path = home / SECRET_KEY_FILE
    with _key_lock:
        key = _read_key(path)
        if key is None:
            key = _create_key(path)
            log.warning(
                "generated a token-signing key at %s; in production set LOYALFLOW_SECRET_KEY "
                "so that every worker and API host signs and verifies links with the same key",
                path,
            )
        else:
            log.warning(
                "signing links with the key in %s: set LOYALFLOW_SECRET_KEY in production so "
                "that every host agrees",
                path,
            )
        return key


def _read_key(path: Path) -> str | None:
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    if not key:
        raise ValueError(f"{path} is empty; delete it to generate a new key")
    return key


def _create_key(path: Path) -> str:
    """Written to a private temporary file, then linked into place: another process starting
    at the same moment either wins (and we read its key) or loses, never reads half a key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    temporary = path.with_name(f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(key + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            existing = _read_key(path)
            assert existing is not None
            return existing
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return key
