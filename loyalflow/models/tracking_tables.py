"""Engagement tracking's tables (issue 16): a tracked message's links, every open and click as
it arrived, and each bounce report the receiver took."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Text
from sqlmodel import Field, SQLModel

from loyalflow.models.column_types import required_timestamp


class MessageLink(SQLModel, table=True):
    """The original URLs of a tracked message, by position: the token names only the position,
    so a link can never be made to redirect anywhere the message did not link to."""

    __tablename__ = "message_link"

    message_id: str = Field(primary_key=True, max_length=64)
    position: int = Field(primary_key=True)
    url: str = Field(max_length=4000)


class EngagementHit(SQLModel, table=True):
    """Every open, click and SMS link click as it arrived, with the flags of
    `members.engagement_rules` (the raw fields stay, so the rules can be re-applied)."""

    __tablename__ = "engagement_hit"
    __table_args__ = (Index("ix_engagement_hit_message_kind", "message_id", "kind", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=64)
    member_id: str = Field(
        sa_column=Column(String(128), ForeignKey("member.id", ondelete="CASCADE"), index=True)
    )
    kind: str = Field(max_length=16)  # open | click | sms_click
    position: int | None = None  # the link's position, for clicks
    at: datetime = required_timestamp()
    method: str = Field(max_length=8)
    user_agent: str | None = Field(default=None, max_length=500)
    ip_prefix: str | None = Field(default=None, max_length=64)  # /24 or /48, never the address
    apple_mpp: bool = False
    bot: bool = False
    human: bool = False
    rule: str | None = Field(default=None, max_length=64)  # the rule that decided, for reports


class BounceReport(SQLModel, table=True):
    """Each report the bounce receiver took: what it understood, or the raw mail if nothing."""

    __tablename__ = "bounce_report"

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = required_timestamp()
    kind: str = Field(max_length=16)  # permanent | temporary | complaint | malformed | unrelated
    message_id: str | None = Field(default=None, max_length=64, index=True)
    recipient: str | None = Field(default=None, max_length=320)
    status: str | None = Field(default=None, max_length=32)  # the DSN status code, e.g. 5.1.1
    detail: str | None = Field(default=None, max_length=1000)
    raw: str | None = Field(
        default=None, sa_column=Column(Text, nullable=True)
    )  # kept for malformed reports only, for inspection


# The rest of the schema, which the foreign keys name, whichever module is imported first; at the
# bottom, so that the timeline's indexes (loaded by `tables`) find these tables declared.
from loyalflow.models import tables as _schema  # noqa: E402, F401
