"""Tier requalification: warned before, downgraded on the date when short, each once."""

import uuid
from datetime import UTC, datetime

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.members.ingest import store_events
from loyalflow.members.requalification import requalify_page
from loyalflow.models.api import EventIn
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event, Member
from loyalflow.rules.loyalty import LoyaltyRules, Requalification, TierLadder, TierLevel

LADDER = TierLadder(
    basis="points_earned_12m",
    levels=(
        TierLevel(name="Bronze", threshold=0),
        TierLevel(name="Silver", threshold=500),
        TierLevel(name="Gold", threshold=2000),
    ),
    requalification=Requalification(when="fixed_date", date="01-01", warn_days=30),
)
RULES = LoyaltyRules(tiers=LADDER)


def member_buying(url: str, purchases: dict[datetime, int]) -> str:
    member_id = f"Q-{uuid.uuid4().hex[:10]}"
    joined = datetime(2025, 1, 10, tzinfo=UTC)
    events = [
        EventIn(
            event_id=f"{member_id}/j", member_id=member_id, type="member.joined", occurred_at=joined
        )
    ]
    events += [
        EventIn(
            event_id=f"{member_id}/{at:%Y%m%d}",
            member_id=member_id,
            type="purchase",
            occurred_at=at,
            properties={"amount": amount},
        )
        for at, amount in purchases.items()
    ]
    store_events(url, events, RULES, BUILT_IN_ONLY)
    return member_id


def sweep(
    url: str, as_of: datetime, members: list[str]
) -> list[tuple[str, str, dict[str, object]]]:
    found: list[Event] = []
    cursor: str | None = None
    while True:
        events, _, cursor = requalify_page(url, LADDER, as_of, cursor, 2)
        found += events
        if cursor is None:
            break
    return sorted(
        (e.member_id, e.type, dict(e.properties)) for e in found if e.member_id in members
    )


def tier(url: str, member_id: str) -> str | None:
    with session_scope(url) as session:
        member = session.get(Member, member_id)
        assert member is not None
        return member.tier


def test_warned_then_downgraded_once_and_the_qualified_keep_their_tier(database_url: str) -> None:
    lapsed = member_buying(database_url, {datetime(2025, 3, 1, tzinfo=UTC): 600})
    loyal = member_buying(
        database_url,
        {datetime(2025, 3, 1, tzinfo=UTC): 600, datetime(2026, 6, 1, tzinfo=UTC): 550},
    )
    members = [lapsed, loyal]
    assert tier(database_url, lapsed) == tier(database_url, loyal) == "Silver"

    warning = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
    assert sweep(database_url, warning, members) == [
        (
            lapsed,
            "tier.will_downgrade",
            {"tier": "Silver", "to": "Bronze", "needed": 500, "on": "2027-01-01"},
        )
    ]
    assert sweep(database_url, warning, members) == []  # once

    on_the_day = datetime(2027, 1, 2, 4, 0, tzinfo=UTC)  # a day late: still applied
    assert sweep(database_url, on_the_day, members) == [
        (
            lapsed,
            "tier.downgraded",
            {"from": "Silver", "to": "Bronze", "requalification": "2027-01-01"},
        )
    ]
    assert sweep(database_url, on_the_day, members) == []
    assert (tier(database_url, lapsed), tier(database_url, loyal)) == ("Bronze", "Silver")
