"""What message templates may read of a member (`member.*`)."""

from typing import Any

from loyalflow.models.tables import Member


def member_context(member: Member) -> dict[str, Any]:
    """What templates may use: no internals, no other members' data."""
    return {
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
