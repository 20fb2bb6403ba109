"""The timeline's points entries: one per ledger movement, naming its cause."""

import uuid
from datetime import UTC, datetime

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.members.ingest import store_events
from loyalflow.members.redemption import redeem
from loyalflow.models.api import EventIn
from loyalflow.models.db import session_scope
from loyalflow.rules.loyalty import LoyaltyRules, TierLadder, TierLevel
from loyalflow.rules.promotions import Promotion, Promotions
from loyalflow.rules.rewards import Reward, RewardsCatalogue
from loyalflow.support.timeline_points import points_entries

RULES = LoyaltyRules(
    tiers=TierLadder(levels=(TierLevel(name="Bronze", threshold=0),)),
    promotions=Promotions(
        offers=(
            Promotion(
                id="double", multiplier=2, starts=datetime(2026, 1, 1), ends=datetime(2027, 1, 1)
            ),
        )
    ),
)


def test_every_movement_with_its_cause(database_url: str) -> None:
    member_id = f"TL-{uuid.uuid4().hex[:8]}"
    at = datetime(2026, 6, 1, tzinfo=UTC)
    store_events(
        database_url,
        [
            EventIn(
                event_id=f"{member_id}/j", member_id=member_id, type="member.joined", occurred_at=at
            ),
            EventIn(
                event_id=f"{member_id}/p",
                member_id=member_id,
                type="purchase",
                occurred_at=at,
                properties={"amount": 100},
            ),
        ],
        RULES,
        BUILT_IN_ONLY,
    )
    rewards = RewardsCatalogue(rewards=(Reward(id="mug", name={"en": "Mug"}, cost=50),))
    redeem(database_url, member_id, "r1", "mug", rewards=rewards, rules=RULES, at=at)
    with session_scope(database_url) as session:
        entries = points_entries(session, member_id)
    assert [(e.kind, e.summary) for e in entries] == [
        ("points", f"+200 points earned (promotion double, cause {member_id}/p)"),
        ("points", f"-50 points redeemed (cause redemption/{member_id}/r1/points.redeemed)"),
    ]
