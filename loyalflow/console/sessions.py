"""Server-side console sessions: the cookie holds a random token, the database its SHA-256,
the user, a CSRF token, and two expiries (absolute, and idle). Signing out deletes the row."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import col, select

from loyalflow.config import Settings
from loyalflow.console.accounts import _user
from loyalflow.console.audit import record
from loyalflow.console.user import User
from loyalflow.models.column_types import utcnow
from loyalflow.models.console_tables import ConsoleSession, ConsoleUser
from loyalflow.models.db import session_scope

COOKIE = "loyalflow_console"
# `last_seen_at` is written at most this often: a page view is not a write per request.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of a request, with their session's CSRF token."""

    user: User
    csrf_token: str
    token_hash: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(settings: Settings, user: User) -> str:
    """A new session for `user`; returns the cookie value (never stored as such)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with session_scope(settings.effective_database_url) as session:
        # Expired rows of anyone go at sign-in, which keeps the table to live sessions.
        session.execute(delete(ConsoleSession).where(col(ConsoleSession.expires_at) < now))
        session.add(
            ConsoleSession(
                token_hash=_digest(token),
                user_id=user.id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=settings.console_session_hours),
            )
        )
    return token


def find_session(settings: Settings, token: str | None) -> Viewer | None:
    """The session's viewer, or None when the token is unknown, expired, idle too long, or its
    user was disabled."""
    if not token:
        return None
    now = utcnow()
    idle_since = now - timedelta(minutes=settings.console_idle_minutes)
    with session_scope(settings.effective_database_url) as session:
        found = session.exec(
            select(ConsoleSession, ConsoleUser)
            .join(ConsoleUser, col(ConsoleUser.id) == ConsoleSession.user_id)
            .where(ConsoleSession.token_hash == _digest(token))
        ).first()
        if found is None:
            return None
        row, user = found
        if row.expires_at <= now or row.last_seen_at <= idle_since or user.disabled_at:
            session.delete(row)
            return None
        if now - row.last_seen_at >= _TOUCH_EVERY:
            row.last_seen_at = now
            session.add(row)
        return Viewer(_user(user), row.csrf_token, row.token_hash)


def end_session(settings: Settings, viewer: Viewer, ip: str | None) -> None:
    with session_scope(settings.effective_database_url) as session:
        session.execute(
            delete(ConsoleSession).where(col(ConsoleSession.token_hash) == viewer.token_hash)
        )
        record(session, viewer.user.name, "logout", f"user:{viewer.user.name}", ip)


def same_token(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
