"""SQLModel tables: what support staff and reports read. Temporal history is not the record."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Dialect, Index, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite hands back naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; loyalflow stores aware UTC times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _timestamp(*, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True, index=index))


def _required_timestamp() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Member(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=128)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=20)
    first_name: str | None = Field(default=None, max_length=200)
    locale: str = Field(default="en", max_length=35)
    timezone: str = Field(default="UTC", max_length=64)
    tier: str | None = Field(default=None, max_length=64)
    points: int = 0
    joined_at: datetime | None = _timestamp()
    first_purchase_at: datetime | None = _timestamp()
    last_purchase_at: datetime | None = _timestamp()
    last_activity_at: datetime | None = _timestamp(index=True)
    purchase_count: int = 0
    total_spent: float = 0.0
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _required_timestamp()
    updated_at: datetime = _required_timestamp()


class Event(SQLModel, table=True):
    event_id: str = Field(primary_key=True, max_length=128)
    member_id: str = Field(foreign_key="member.id", index=True, max_length=128)
    type: str = Field(max_length=64, index=True)
    occurred_at: datetime = _required_timestamp()
    received_at: datetime = _required_timestamp()
    properties: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # False until every journey start and signal for the event succeeded; the router retries them.
    routed: bool = Field(default=False, index=True)


class JourneyVersion(SQLModel, table=True):
    __tablename__ = "journey_version"

    journey_id: str = Field(primary_key=True, max_length=64)
    version: str = Field(primary_key=True, max_length=64)
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    published_at: datetime = _required_timestamp()


class Enrollment(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("journey_id", "member_id", "entry"),
        # The router's query: "this member's running enrollments".
        Index("ix_enrollment_member_running", "member_id", "exited_at"),
    )

    workflow_id: str = Field(primary_key=True, max_length=255)
    journey_id: str = Field(max_length=64, index=True)
    journey_version: str = Field(max_length=64)
    member_id: str = Field(foreign_key="member.id", max_length=128)
    entry: int = 1
    trigger_event_id: str | None = Field(default=None, max_length=128)
    entered_at: datetime = _required_timestamp()
    current_step: str | None = Field(default=None, max_length=64)
    exited_at: datetime | None = _timestamp()
    exit_reason: str | None = Field(default=None, max_length=255)


class MessageStatus(StrEnum):
    # Written before the provider call; a row still `sending` after a crash is ambiguous.
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    DEFERRED = "deferred"
    FAILED = "failed"
    DELIVERED = "delivered"
    BOUNCED = "bounced"


class Message(SQLModel, table=True):
    message_id: str = Field(primary_key=True, max_length=64)
    member_id: str = Field(foreign_key="member.id", index=True, max_length=128)
    journey_id: str = Field(max_length=64, index=True)
    workflow_id: str = Field(max_length=255, index=True)
    step_id: str = Field(max_length=64)
    channel: str = Field(max_length=16)
    template: str = Field(max_length=128)
    locale: str | None = Field(default=None, max_length=35)
    variant: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16)  # a MessageStatus value; plain text keeps migrations simple
    reason: str | None = Field(default=None, max_length=500)
    subject: str | None = Field(default=None, max_length=500)
    provider_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = _required_timestamp()
    sent_at: datetime | None = _timestamp()
    updated_at: datetime = _required_timestamp()
