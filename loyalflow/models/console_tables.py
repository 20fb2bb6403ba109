"""The console's tables (issue 18): accounts, sessions, login throttling, the audit log and
paused journeys. Registered on the metadata by `models.tables`, which imports this module.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from loyalflow.models.column_types import UTCDateTime, optional_timestamp, required_timestamp


class ConsoleUser(SQLModel, table=True):
    """A person who signs in to the console; `role` is admin | marketer | support."""

    __tablename__ = "console_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=48, unique=True)
    password_hash: str = Field(max_length=255)  # Argon2id, in the PHC string format
    role: str = Field(max_length=16)
    locale: str | None = Field(default=None, max_length=8)  # None: the browser's language
    created_at: datetime = required_timestamp()
    disabled_at: datetime | None = optional_timestamp()


class ConsoleSession(SQLModel, table=True):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is stored, so a
    copy of the database signs nobody in."""

    __tablename__ = "console_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("console_user.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    csrf_token: str = Field(max_length=64)
    created_at: datetime = required_timestamp()
    last_seen_at: datetime = required_timestamp()
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class LoginAttempt(SQLModel, table=True):
    """Failed sign-ins, counted per name and per address over a window (throttling)."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_name_at", "name", "at"),
        Index("ix_login_attempt_ip_at", "ip", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=48)
    ip: str = Field(max_length=64)
    at: datetime = required_timestamp()


class AuditEntry(SQLModel, table=True):
    """Who did what, when, to what: every console action and every `users` command."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_target", "target", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = required_timestamp()
    actor: str = Field(max_length=64)  # a console user's name, or `cli`
    action: str = Field(max_length=48)
    target: str | None = Field(default=None, max_length=255)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    ip: str | None = Field(default=None, max_length=64)


class JourneyPause(SQLModel, table=True):
    """A journey whose entries are paused: new triggers start nothing; runs in flight go on."""

    __tablename__ = "journey_pause"

    journey_id: str = Field(primary_key=True, max_length=64)
    paused_at: datetime = required_timestamp()
    paused_by: str = Field(max_length=64)  # a console user's name, or `cli`
