"""SQLModel tables: what support staff and reports read. Temporal history is not the record.

One concern: the database schema, every table side by side as the migrations build it, so that
foreign keys and indexes read in one place.
"""

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Computed,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from loyalflow.models.purchase_amount import purchase_amount


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


def optional_timestamp(*, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True, index=index))


def required_timestamp() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Member(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=128)
    email: str | None = Field(default=None, max_length=320, index=True)  # console look-ups
    phone: str | None = Field(default=None, max_length=20, index=True)  # inbound SMS lookups
    first_name: str | None = Field(default=None, max_length=200)
    locale: str = Field(default="en", max_length=35)
    timezone: str = Field(default="UTC", max_length=64)
    tier: str | None = Field(default=None, max_length=64)
    # 64-bit: a balance past 2**31 is a real (if rare) program, not an error.
    points: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))
    joined_at: datetime | None = optional_timestamp()
    first_purchase_at: datetime | None = optional_timestamp()
    last_purchase_at: datetime | None = optional_timestamp(index=True)
    last_activity_at: datetime | None = optional_timestamp(index=True)
    purchase_count: int = 0
    # Exact money: a float would drift (120.99 + 30 - 30 != 120.99).
    total_spent: Decimal = Field(default=Decimal(0), max_digits=20, decimal_places=2)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = required_timestamp()
    updated_at: datetime = required_timestamp()


class Event(SQLModel, table=True):
    # Clients' ids are up to 128 characters; derived events append to them.
    event_id: str = Field(primary_key=True, max_length=255)
    member_id: str = Field(foreign_key="member.id", index=True, max_length=128)
    type: str = Field(max_length=64, index=True)
    occurred_at: datetime = required_timestamp()
    received_at: datetime = required_timestamp()
    properties: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Set on events loyalflow derived (purchase.first, tier.upgraded...): the event that caused it.
    caused_by: str | None = Field(default=None, max_length=255)
    # False until every journey start and signal for the event succeeded; the router retries them.
    routed: bool = Field(default=False, index=True)


# A purchase's amount, computed by the database (models/purchase_amount.py), and the KPI report's
# index over a type's events in a period. A column of the table, not an attribute of `Event`:
# the ORM, the API and workflow inputs never see it; reports read it with SQL.
_event_table = SQLModel.metadata.tables["event"]
_event_table.append_column(Column("amount", Numeric(), Computed(purchase_amount()), nullable=True))
Index(
    "ix_event_type_time_member",
    _event_table.c.type,
    _event_table.c.occurred_at,
    _event_table.c.member_id,
    _event_table.c.amount,
)
# A member's events of a type by time: tier rules over 12-month spend, the router, and journey
# reports' conversions and attributed revenue (with the amount, so they never read the row).
Index(
    "ix_event_member_type_time",
    _event_table.c.member_id,
    _event_table.c.type,
    _event_table.c.occurred_at,
    _event_table.c.amount,
)


class Consent(SQLModel, table=True):
    """The latest decision per member, channel and topic; the event log keeps the history."""

    member_id: str = Field(foreign_key="member.id", primary_key=True, max_length=128)
    channel: str = Field(primary_key=True, max_length=16)
    topic: str = Field(primary_key=True, max_length=64)
    status: str = Field(max_length=16)  # granted | revoked
    source: str | None = Field(default=None, max_length=64)
    at: datetime = required_timestamp()


class Suppression(SQLModel, table=True):
    """Addresses that must never be contacted again on a channel (hard bounce, STOP, complaint)."""

    address: str = Field(primary_key=True, max_length=320)
    channel: str = Field(primary_key=True, max_length=16)
    reason: str = Field(max_length=255)
    at: datetime = required_timestamp()


class ExperimentAssignment(SQLModel, table=True):
    __tablename__ = "experiment_assignment"

    experiment: str = Field(primary_key=True, max_length=128)
    member_id: str = Field(foreign_key="member.id", primary_key=True, max_length=128)
    variant: str = Field(max_length=64)
    at: datetime = required_timestamp()


class JourneyVersion(SQLModel, table=True):
    __tablename__ = "journey_version"

    journey_id: str = Field(primary_key=True, max_length=64)
    version: str = Field(primary_key=True, max_length=64)
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    published_at: datetime = required_timestamp()


class Enrollment(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("journey_id", "member_id", "entry"),
        # The router's query: "this member's running enrollments".
        Index("ix_enrollment_member_running", "member_id", "exited_at"),
        # Journey reports: a journey's entries in a period.
        Index("ix_enrollment_journey_entered", "journey_id", "entered_at"),
        # The console's journeys list: runs in progress per journey, counted from the index
        # alone; partial, so finished runs (most of the table) take no room in it.
        Index(
            "ix_enrollment_running_journey",
            "journey_id",
            postgresql_where=text("exited_at IS NULL"),
            sqlite_where=text("exited_at IS NULL"),
        ),
    )

    workflow_id: str = Field(primary_key=True, max_length=255)
    journey_id: str = Field(max_length=64, index=True)
    journey_version: str = Field(max_length=64)
    member_id: str = Field(foreign_key="member.id", max_length=128)
    entry: int = 1
    trigger_event_id: str | None = Field(default=None, max_length=255)
    entered_at: datetime = required_timestamp()
    current_step: str | None = Field(default=None, max_length=64)
    exited_at: datetime | None = optional_timestamp()
    exit_reason: str | None = Field(default=None, max_length=255)
    variant: str | None = Field(default=None, max_length=64)  # the A/B group, holdout included
    converted_at: datetime | None = optional_timestamp()  # when the journey's goal event arrived
    goal_event_id: str | None = Field(default=None, max_length=255)


class MessageStatus(StrEnum):
    # Decided to send, not yet handed to the provider: a retry may safely decide again.
    READY = "ready"
    # Written right before the provider call; a row still `sending` after a crash is ambiguous.
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    DEFERRED = "deferred"
    FAILED = "failed"
    DELIVERED = "delivered"
    BOUNCED = "bounced"


REPORTED_MESSAGE_COLUMNS = (
    "step_id",
    "channel",
    "status",
    "sent_at",
    "first_opened_at",
    "first_clicked_at",
    "reason",
)


class Message(SQLModel, table=True):
    # The console's message log pages newest first (keyset), over everything or one journey.
    __table_args__ = (
        Index("ix_message_created", "created_at", "message_id"),
        Index("ix_message_journey_created", "journey_id", "created_at", "message_id"),
        # A run's messages. On PostgreSQL it carries what journey reports read of each (sends,
        # opens, clicks, what was not sent and why: `analytics/send_funnel.py`), so the
        # report's probe per entry reads the index alone (migration 0026).
        Index(
            "ix_message_workflow_id",
            "workflow_id",
            postgresql_include=list(REPORTED_MESSAGE_COLUMNS),
        ),
    )

    message_id: str = Field(primary_key=True, max_length=64)
    member_id: str = Field(foreign_key="member.id", index=True, max_length=128)
    journey_id: str = Field(max_length=64, index=True)
    workflow_id: str = Field(max_length=255)
    step_id: str = Field(max_length=64)
    channel: str = Field(max_length=16)
    template: str = Field(max_length=128)
    topic: str | None = Field(default=None, max_length=64)  # frequency caps count per topic
    locale: str | None = Field(default=None, max_length=35)
    variant: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16)  # a MessageStatus value; plain text keeps migrations simple
    reason: str | None = Field(default=None, max_length=500)
    subject: str | None = Field(default=None, max_length=500)
    provider_id: str | None = Field(default=None, max_length=255, index=True)  # delivery reports
    # Skipped or refused for this address (no contact, consent, bounce): another channel may work.
    fallback_ok: bool = False
    created_at: datetime = required_timestamp()
    sent_at: datetime | None = optional_timestamp()
    updated_at: datetime = required_timestamp()
    # When the last attempt handed the message to the provider (the row became `sending`).
    handed_at: datetime | None = optional_timestamp()
    # Set when an attempt that the provider may have had ended with no answer (a killed worker,
    # a dropped connection after DATA): the hand-over time of that attempt. Support lists them.
    interrupted_at: datetime | None = optional_timestamp(index=True)
    # Engagement (issue 16): people only; machines' hits are in `engagement_hit` alone.
    first_opened_at: datetime | None = optional_timestamp()
    first_clicked_at: datetime | None = optional_timestamp()
    bounced_at: datetime | None = optional_timestamp()
    # A console "send a test" (issue 18): in the ledger, left out of every count and report.
    is_test: bool = False


class JourneyStep(SQLModel, table=True):
    """Each step a run entered, written by `record_progress`: the member's timeline reads it long
    after Temporal's history retention. Outcomes of sends are in the message ledger."""

    __tablename__ = "journey_step"
    __table_args__ = (
        UniqueConstraint("workflow_id", "step_id", "at"),
        # Journey reports: a journey's step rows since a time, with the run and the step, so a
        # period's rows are one range of the index and never the table (analytics/cohort.py).
        Index("ix_journey_step_journey_at", "journey_id", "at", "workflow_id", "step_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(max_length=255, index=True)
    member_id: str = Field(max_length=128, index=True)
    journey_id: str = Field(max_length=64)
    step_id: str = Field(max_length=64)
    at: datetime = required_timestamp()


class SupportAction(SQLModel, table=True):
    """What support staff did to a run or a message (exit, retry-send), and who did it."""

    __tablename__ = "support_action"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = required_timestamp()
    by: str = Field(max_length=100)
    action: str = Field(max_length=32)  # exit | retry_send
    member_id: str = Field(max_length=128, index=True)
    workflow_id: str | None = Field(default=None, max_length=255)
    message_id: str | None = Field(default=None, max_length=64)
    new_message_id: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=500)


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


class PointsLot(SQLModel, table=True):
    """Points earned together, spent and expired oldest first: `remaining` is what is left."""

    __tablename__ = "points_lot"
    __table_args__ = (
        # Open lots only (spent and expired ones are most rows, and nothing looks them up by
        # member): the expiry sweep pages by member over them; spending reads a member's.
        Index(
            "ix_points_lot_open",
            "member_id",
            "expires_at",
            postgresql_where=text("remaining > 0"),
            sqlite_where=text("remaining > 0"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="member.id", max_length=128)
    earned_at: datetime = required_timestamp()
    expires_at: datetime | None = optional_timestamp()  # None: never expires
    # 64-bit, like the member's balance (a single adjustment may reach 10**12 points).
    original: int = Field(sa_column=Column(BigInteger(), nullable=False))
    remaining: int = Field(sa_column=Column(BigInteger(), nullable=False))
    event_id: str | None = Field(default=None, max_length=255)  # the event that earned it


class PointsLedger(SQLModel, table=True):
    """Every change of a member's points, written with the event that caused it: the balance
    is the sum of `points` over the member's rows, always."""

    __tablename__ = "points_ledger"
    __table_args__ = (
        Index("ix_points_ledger_member", "member_id", "id"),
        # The KPI report's points over a period, from the index alone.
        Index("ix_points_ledger_time", "at", "kind", "points", "member_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="member.id", max_length=128)
    at: datetime = required_timestamp()
    # opening | earned | bonus | redeemed | reversed | expired | adjusted
    kind: str = Field(max_length=16)
    points: int = Field(sa_column=Column(BigInteger(), nullable=False))  # signed, 64-bit
    event_id: str | None = Field(default=None, max_length=255, index=True)  # the cause
    promotion: str | None = Field(default=None, max_length=64)  # what multiplied an earning
    # The opening lot of an `opening` row; an earning's lot has the row's event_id instead
    # (ingestion writes lots and rows in one INSERT each per batch, without generated ids).
    lot_id: int | None = Field(default=None, foreign_key="points_lot.id")
    # What a negative movement took from which lots, oldest first: [[lot_id, points], ...]
    lots: list[list[int]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Redemption(SQLModel, table=True):
    """A reward bought with points; its id is the client's (unique per member), so a retried
    request redeems once."""

    member_id: str = Field(foreign_key="member.id", primary_key=True, max_length=128)
    id: str = Field(primary_key=True, max_length=128)
    reward_id: str = Field(max_length=64)
    cost: int = Field(sa_column=Column(BigInteger(), nullable=False))
    status: str = Field(default="completed", max_length=16)  # completed | cancelled
    at: datetime = required_timestamp()
    cancelled_at: datetime | None = optional_timestamp()


class RewardStock(SQLModel, table=True):
    """How many of a reward with a stock are taken; its row is locked while one is redeemed."""

    __tablename__ = "reward_stock"

    reward_id: str = Field(primary_key=True, max_length=64)
    taken: int = 0


class Referral(SQLModel, table=True):
    """Who referred a member (one referrer per member); converted at their first purchase."""

    __table_args__ = (Index("ix_referral_referrer_time", "referrer_id", "at"),)

    member_id: str = Field(foreign_key="member.id", primary_key=True, max_length=128)
    referrer_id: str = Field(foreign_key="member.id", max_length=128)
    at: datetime = required_timestamp()
    event_id: str = Field(max_length=255)
    converted_at: datetime | None = optional_timestamp()


def normalise_address(channel: str, address: str) -> str:
    """The form suppressions are keyed by: email addresses compare case-insensitively."""
    return address.lower() if channel == "email" else address


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


# The activity, rollup, snapshot and console tables, and the timeline's indexes, live apart (one
# concern each); imported here so that whoever loads the schema (migrations, tests comparing it) sees them too.
from loyalflow.models import activity_tables as _activity_tables  # noqa: E402, F401
from loyalflow.models import console_tables as _console_tables  # noqa: E402, F401
from loyalflow.models import rollup_tables as _rollup_tables  # noqa: E402, F401
from loyalflow.models import snapshot_tables as _snapshot_tables  # noqa: E402, F401
from loyalflow.models import timeline_indexes as _timeline_indexes  # noqa: E402, F401
