"""What message templates may read of a member (`member.*`)."""

from typing import Any

from loyalflow.models.tables import Member

# Computed from the points ledger and the tier ladder (members/tiers.py `loyalty_variables`);
# None where the caller did not compute them.
LOYALTY_FIELDS = ("next_tier", "points_to_next_tier", "points_expiring", "points_expiring_at")


def member_context(member: Member, loyalty: dict[str, Any] | None = None) -> dict[str, Any]:
    """What templates may use: no internals, no other members' data."""
    return {
        **dict.fromkeys(LOYALTY_FIELDS),
        **(loyalty or {}),
        "id": member.id,
        "first_name": member.first_name,
        "email": member.email,
        "tier": member.tier,
        "points": member.points,
        "joined_at": member.joined_at,
        "first_purchase_at": member.first_purchase_at,
        "last_purchase_at": member.last_purchase_at,
        "last_activity_at": member.last_activity_at,
        "purchase_count": member.purchase_count,
        "total_spent": member.total_spent,
        "tags": member.attributes.get("tags", []),
        "attributes": dict(member.attributes),
    }


# The names `member.*` offers templates (what the journey validator checks templates against).
MEMBER_FIELDS = frozenset(member_context(Member(id="-")))
