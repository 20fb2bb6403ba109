"""Visitors not identified yet (Segment's `anonymousId`): their aliases to members and the
events kept until an alias names the member."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from loyalflow.models.column_types import required_timestamp


class AnonymousAlias(SQLModel, table=True):
    """A Segment `anonymousId` (a browser, a device) known to be a member: its events are the
    member's from then on."""

    __tablename__ = "anonymous_alias"

    anonymous_id: str = Field(primary_key=True, max_length=128)
    member_id: str = Field(foreign_key="member.id", index=True, max_length=128)
    created_at: datetime = required_timestamp()


class AnonymousEvent(SQLModel, table=True):
    """An event of a visitor not identified yet: kept, never routed, until an alias names the
    member; then stored as the member's event (same id) and deleted from here."""

    __tablename__ = "anonymous_event"

    event_id: str = Field(primary_key=True, max_length=128)
    anonymous_id: str = Field(index=True, max_length=128)
    type: str = Field(max_length=64)
    occurred_at: datetime = required_timestamp()
    received_at: datetime = required_timestamp()
    properties: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# The rest of the schema, which the foreign keys name, whichever module is imported first; at the
# bottom, so that the timeline's indexes (loaded by `tables`) find these tables declared.
from loyalflow.models import tables as _schema  # noqa: E402, F401
