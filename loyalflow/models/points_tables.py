"""The loyalty currency's tables (issue 14): points lots and their ledger, redemptions, reward
stock and referrals. `Member.points` is the balance; these rows say where every point came from
and went."""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, Index, text
from sqlmodel import Field, SQLModel

from loyalflow.models.column_types import optional_timestamp, required_timestamp


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


# The rest of the schema, which the foreign keys name, whichever module is imported first; at the
# bottom, so that the timeline's indexes (loaded by `tables`) find these tables declared.
from loyalflow.models import tables as _schema  # noqa: E402, F401
