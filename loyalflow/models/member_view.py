"""A member as the API and the CLI show them: profile, consents and the loyalty summary.

Apart from the request shapes in api.py (phone numbers, locales and e-mail validation load
libraries a read does not need), so that `loyalflow member get` starts quickly.
"""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    channel: str
    topic: str
    status: str
    source: str | None
    at: datetime


class PointsSummary(BaseModel):
    """A member's points as support staff and members see them (issue 14)."""

    balance: int
    expiring_next: int  # points in the lots that expire first (0: nothing expires)
    expiring_at: datetime | None
    lifetime_earned: int  # purchases, bonuses and opening balances
    lifetime_redeemed: int  # net of cancelled redemptions
    lifetime_expired: int
    tier: str | None
    next_tier: str | None
    points_to_next_tier: int | None  # None at the top, or when tiers are not earned by points


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str | None
    phone: str | None
    first_name: str | None
    locale: str
    timezone: str
    tier: str | None
    points: int
    joined_at: datetime | None
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    last_activity_at: datetime | None
    purchase_count: int
    total_spent: float  # stored exactly (NUMERIC); JSON clients get a number
    attributes: dict[str, Any]
    consents: list[ConsentOut] = Field(default_factory=list)
    loyalty: PointsSummary | None = None
