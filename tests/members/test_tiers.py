"""tier.near_next once per tier and period; the template's next-tier and expiring-points facts."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.members.ingest import store_events
from loyalflow.members.tiers import loyalty_variables
from loyalflow.models.api import EventIn
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event, Member
from loyalflow.models.template_vars import member_context
from loyalflow.rules.loyalty import LoyaltyRules, TierLadder, TierLevel
from loyalflow.rules.points_expiry import PointsExpiry

LADDER = TierLadder(
    levels=(
        TierLevel(name="Bronze", threshold=0),
        TierLevel(name="Silver", threshold=500),
        TierLevel(name="Gold", threshold=2000),
    ),
    near_next_share=0.8,
)
RULES = LoyaltyRules(tiers=LADDER, points_expiry=PointsExpiry(policy="per_lot", months=12))
START = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)


def buy(url: str, member_id: str, amounts: list[int], first_day: int = 1) -> None:
    events = [
        EventIn(
            event_id=f"{member_id}/{first_day + n}",
            member_id=member_id,
            type="purchase",
            occurred_at=START + timedelta(days=first_day + n),
            properties={"amount": amount},
        )
        for n, amount in enumerate(amounts)
    ]
    store_events(url, events, RULES, BUILT_IN_ONLY)


def near_next_events(url: str, member_id: str) -> list[dict[str, Any]]:
    with session_scope(url) as session:
        return [
            dict(props)
            for props in session.exec(
                select(Event.properties)
                .where(Event.member_id == member_id, Event.type == "tier.near_next")
                .order_by(col(Event.occurred_at))
            )
        ]


def test_near_next_once_per_tier(database_url: str) -> None:
    member_id = f"T-{uuid.uuid4().hex[:10]}"
    store_events(
        database_url,
        [
            EventIn(
                event_id=f"{member_id}/j",
                member_id=member_id,
                type="member.joined",
                occurred_at=START,
            )
        ],
        RULES,
        BUILT_IN_ONLY,
    )
    buy(
        database_url, member_id, [300, 110, 10, 20]
    )  # 300: not near; 410 >= 400: near Silver; then again
    assert near_next_events(database_url, member_id) == [
        {"tier": "Bronze", "next_tier": "Silver", "needed": 90}
    ]
    buy(
        database_url, member_id, [100, 1100, 50], first_day=10
    )  # Silver at 540; 1640 near Gold (1600)
    assert near_next_events(database_url, member_id)[1:] == [
        {"tier": "Silver", "next_tier": "Gold", "needed": 360}
    ]


def test_templates_read_next_tier_and_expiring_points(database_url: str) -> None:
    member_id = f"V-{uuid.uuid4().hex[:10]}"
    store_events(
        database_url,
        [
            EventIn(
                event_id=f"{member_id}/j",
                member_id=member_id,
                type="member.joined",
                occurred_at=START,
            )
        ],
        RULES,
        BUILT_IN_ONLY,
    )
    buy(database_url, member_id, [120, 200])
    with session_scope(database_url) as session:
        member = session.get(Member, member_id)
        assert member is not None
        context = member_context(member, loyalty_variables(session, member, LADDER))
    assert context["next_tier"] == "Silver" and context["points_to_next_tier"] == 180
    assert context["points_expiring"] == 120
    assert context["points_expiring_at"] == START + timedelta(days=1) + timedelta(days=365)
