"""Console users: add, list, disable, and sign-in with throttling after repeated failures.

Failures are rows in `login_attempt`, counted per user name and per client address over a
window, so the limit holds across API processes and restarts. While a name or an address is
over its limit, no password is even checked: guessing on is pointless until the window passes.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from loyalflow.config import Settings
from loyalflow.console.audit import record
from loyalflow.console.passwords import hash_password, needs_rehash, verify_password
from loyalflow.console.user import ROLES, User
from loyalflow.models.column_types import utcnow
from loyalflow.models.console_tables import ConsoleSession, ConsoleUser, LoginAttempt
from loyalflow.models.db import session_scope

# Names go into consent sources (`support:<name>`) and audit rows: plain and short.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,47}")


class AccountError(ValueError):
    """A request an operator can fix; the message says how."""


def _user(row: ConsoleUser) -> User:
    assert row.id is not None
    return User(row.id, row.name, row.role, row.locale, row.disabled_at is not None)  # type: ignore[arg-type]


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise AccountError(
            f"user name {name!r}: 1 to 48 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    return name


def add_user(url: str, name: str, role: str, password: str, actor: str = "cli") -> User:
    check_name(name)
    if role not in ROLES:
        raise AccountError(f"role {role!r}: one of {', '.join(ROLES)}")
    row = ConsoleUser(name=name, role=role, password_hash=hash_password(password))
    try:
        with session_scope(url) as session:
            session.add(row)
            record(session, actor, "user.add", f"user:{name}", role=role)
    except IntegrityError:
        raise AccountError(f"a user named {name!r} already exists") from None
    return _user(row)


def list_users(url: str) -> list[User]:
    with session_scope(url) as session:
        return [_user(r) for r in session.exec(select(ConsoleUser).order_by(col(ConsoleUser.name)))]


def disable_user(url: str, name: str, actor: str = "cli") -> User:
    """Signs the user out everywhere (their sessions are deleted) and refuses new sign-ins."""
    with session_scope(url) as session:
        row = session.exec(select(ConsoleUser).where(ConsoleUser.name == name)).first()
        if row is None:
            raise AccountError(f"no user named {name!r}")
        if row.disabled_at is None:
            row.disabled_at = utcnow()
            session.add(row)
            session.execute(delete(ConsoleSession).where(col(ConsoleSession.user_id) == row.id))
            record(session, actor, "user.disable", f"user:{name}")
        return _user(row)


def set_locale(url: str, user: User, locale: str | None, ip: str | None) -> None:
    with session_scope(url) as session:
        row = session.get(ConsoleUser, user.id)
        assert row is not None
        row.locale = locale
        session.add(row)
        record(session, user.name, "user.locale", f"user:{user.name}", ip, locale=locale)


@dataclass(frozen=True)
class SignIn:
    user: User | None  # None: refused
    throttled: bool = False


def _failures(url: str, name: str, ip: str, since: datetime) -> tuple[int, int]:
    with session_scope(url) as session:
        by_name = session.exec(
            select(func.count()).where(LoginAttempt.name == name, LoginAttempt.at >= since)
        ).one()
        by_ip = session.exec(
            select(func.count()).where(LoginAttempt.ip == ip, LoginAttempt.at >= since)
        ).one()
        return int(by_name), int(by_ip)


def authenticate(settings: Settings, name: str, password: str, ip: str) -> SignIn:
    """Checks the password unless the name or the address is throttled; audits the outcome."""
    url = settings.effective_database_url
    name = name.strip()[:48]
    now = utcnow()
    since = now - timedelta(minutes=settings.console_login_window_minutes)
    by_name, by_ip = _failures(url, name, ip, since)
    if (
        by_name >= settings.console_login_failures
        or by_ip >= settings.console_login_failures_per_ip
    ):
        with session_scope(url) as session:
            record(session, name or "-", "login.throttled", f"user:{name}", ip)
        return SignIn(None, throttled=True)
    with session_scope(url) as session:
        row = session.exec(select(ConsoleUser).where(ConsoleUser.name == name)).first()
        valid = verify_password(row.password_hash if row else None, password)
        if row is None or not valid or row.disabled_at is not None:
            session.add(LoginAttempt(name=name, ip=ip, at=now))
            # Old failures are of no use past the window: the table stays small.
            session.execute(delete(LoginAttempt).where(col(LoginAttempt.at) < since))
            record(session, name or "-", "login.failed", f"user:{name}", ip)
            return SignIn(None)
        if needs_rehash(row.password_hash):
            row.password_hash = hash_password(password)
            session.add(row)
        # The user's own count starts again; the address's stays (it may be guessing many names).
        session.execute(delete(LoginAttempt).where(col(LoginAttempt.name) == name))
        record(session, name, "login", f"user:{name}", ip)
        return SignIn(_user(row))
