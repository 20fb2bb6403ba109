"""SQLModel tables: what support staff and reports read. Temporal history is not the record.

The core schema: members, their events, consent and suppressions, journeys' runs, steps and
message ledger. The loyalty currency, engagement tracking, anonymous visitors, activity, rollups,
snapshots and the console have their own modules, loaded at the bottom of this one.
"""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Computed, Index, Numeric, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from loyalflow.models.column_types import optional_timestamp, required_timestamp
from loyalflow.models.purchase_amount import purchase_amount


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


def normalise_address(channel: str, address: str) -> str:
    """The form suppressions are keyed by: email addresses compare case-insensitively."""
    return address.lower() if channel == "email" else address


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


# The other tables, and the timeline's indexes, live apart (one concern each); imported here so
# that whoever loads the schema (migrations, tests comparing it) sees them too.
from loyalflow.models import activity_tables as _activity_tables  # noqa: E402, F401
from loyalflow.models import anonymous_tables as _anonymous_tables  # noqa: E402, F401
from loyalflow.models import console_tables as _console_tables  # noqa: E402, F401
from loyalflow.models import points_tables as _points_tables  # noqa: E402, F401
from loyalflow.models import rollup_tables as _rollup_tables  # noqa: E402, F401
from loyalflow.models import snapshot_tables as _snapshot_tables  # noqa: E402, F401
from loyalflow.models import timeline_indexes as _timeline_indexes  # noqa: E402, F401
from loyalflow.models import tracking_tables as _tracking_tables  # noqa: E402, F401
