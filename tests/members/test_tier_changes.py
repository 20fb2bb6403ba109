"""Tiers follow every points change that moves their basis: expiry, a referrer's bonus, a
redemption and its cancellation; not the changes that leave the basis alone."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.members.ingest import store_events, upsert_member
from loyalflow.members.points_sweep import expire_page
from loyalflow.members.redemption import redeem
from loyalflow.models.api import EventIn, MemberIn
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Member
from loyalflow.rules.loyalty import LoyaltyRules, Referrals, TierLadder, TierLevel
from loyalflow.rules.points_expiry import PointsExpiry, add_months
from loyalflow.rules.rewards import Reward, RewardsCatalogue

START = datetime(2026, 3, 1, 12, tzinfo=UTC)
LEVELS = (TierLevel(name="Bronze", threshold=0), TierLevel(name="Silver", threshold=500))
REWARDS = RewardsCatalogue(rewards=(Reward(id="coffee", name={"en": "Coffee"}, cost=150),))


def rules(
    basis: Literal["points", "points_earned_12m"] = "points",
    downgrade: Literal["never", "immediate"] = "immediate",
) -> LoyaltyRules:
    return LoyaltyRules(
        tiers=TierLadder(basis=basis, downgrade=downgrade, levels=LEVELS),
        points_expiry=PointsExpiry(policy="per_lot", months=12),
        referrals=Referrals(referrer_points=500, referred_points=200),
    )


def event(member_id: str, type: str, at: datetime = START, **properties: object) -> EventIn:
    return EventIn(
        event_id=f"{member_id}/{type}/{uuid.uuid4().hex[:6]}",
        member_id=member_id,
        type=type,
        occurred_at=at,
        properties=properties,
    )


def member_who_spent(url: str, amount: int, loyalty: LoyaltyRules) -> str:
    member_id = f"T-{uuid.uuid4().hex[:10]}"
    upsert_member(url, member_id, MemberIn())
    if amount:
        store_events(url, [event(member_id, "purchase", amount=amount)], loyalty, BUILT_IN_ONLY)
    return member_id


def tier(url: str, member_id: str) -> str | None:
    with session_scope(url) as session:
        member = session.get(Member, member_id)
        assert member is not None
        return member.tier


def sweep_member(
    url: str, as_of: datetime, loyalty: LoyaltyRules, member_id: str
) -> list[tuple[str, dict[str, object]]]:
    """The expiry sweep's page for this member alone (the page starting just before its id;
    the database is shared with other tests); its events."""
    page = expire_page(
        url, as_of, [30, 7], member_id[:-1], 1, expiry=loyalty.points_expiry, ladder=loyalty.tiers
    )
    assert page.scanned == 1
    return [(e.type, e.properties) for e in page.events if e.member_id == member_id]


@pytest.mark.parametrize("downgrade", ["immediate", "never"])
def test_expiry_lowers_a_balance_tier_only_when_downgrades_are_immediate(
    database_url: str, downgrade: Literal["never", "immediate"]
) -> None:
    loyalty = rules(downgrade=downgrade)
    member_id = member_who_spent(database_url, 600, loyalty)
    assert tier(database_url, member_id) == "Silver"

    events = sweep_member(
        database_url, add_months(START, 12) + timedelta(hours=1), loyalty, member_id
    )

    types = [(kind, props.get("to")) for kind, props in events]
    if downgrade == "immediate":
        assert types == [("points.expired", None), ("tier.downgraded", "Bronze")]
        assert tier(database_url, member_id) == "Bronze"
    else:
        assert types == [("points.expired", None)]
        assert tier(database_url, member_id) == "Silver"


def test_expiry_leaves_a_points_earned_tier_alone(database_url: str) -> None:
    loyalty = rules(basis="points_earned_12m")
    member_id = member_who_spent(database_url, 600, loyalty)
    events = sweep_member(
        database_url, add_months(START, 12) + timedelta(hours=1), loyalty, member_id
    )
    assert [kind for kind, _ in events] == ["points.expired"]
    assert tier(database_url, member_id) == "Silver"


@pytest.mark.parametrize("basis", ["points", "points_earned_12m"])
def test_a_referral_bonus_lifts_the_referrers_tier(
    database_url: str, basis: Literal["points", "points_earned_12m"]
) -> None:
    loyalty = rules(basis=basis)
    referrer = member_who_spent(database_url, 100, loyalty)
    friend = member_who_spent(database_url, 0, loyalty)
    store_events(
        database_url,
        [event(friend, "member.referred", referrer_id=referrer)],
        loyalty,
        BUILT_IN_ONLY,
    )
    assert tier(database_url, referrer) == "Bronze"

    stored = store_events(
        database_url, [event(friend, "purchase", amount=30)], loyalty, BUILT_IN_ONLY
    )

    assert tier(database_url, referrer) == "Silver"  # 100 + 500
    assert tier(database_url, friend) == "Bronze"  # 30 + 200
    upgrades = [
        (s.event.member_id, s.event.properties, s.event.caused_by)
        for s in stored
        if s.event.type == "tier.upgraded"
    ]
    assert upgrades == [(referrer, {"from": "Bronze", "to": "Silver"}, stored[0].event.event_id)]


def test_a_redemption_lowers_a_balance_tier_and_its_cancellation_restores_it(
    database_url: str,
) -> None:
    loyalty = rules()
    member_id = member_who_spent(database_url, 600, loyalty)
    at = START + timedelta(days=1)

    outcome = redeem(
        database_url, member_id, "R-1", "coffee", rewards=REWARDS, rules=loyalty, at=at
    )

    assert [(e.type, e.properties.get("to")) for e in outcome.events] == [
        ("points.redeemed", None),
        ("tier.downgraded", "Bronze"),
    ]
    assert tier(database_url, member_id) == "Bronze"
    cancelled = store_events(
        database_url,
        [event(member_id, "redemption.cancelled", at + timedelta(hours=1), redemption_id="R-1")],
        loyalty,
        BUILT_IN_ONLY,
    )
    assert [s.event.type for s in cancelled] == ["redemption.cancelled", "tier.upgraded"]
    assert tier(database_url, member_id) == "Silver"


@pytest.mark.parametrize(
    ("basis", "downgrade"), [("points", "never"), ("points_earned_12m", "immediate")]
)
def test_a_redemption_keeps_the_tier_when_the_basis_or_the_ladder_says_so(
    database_url: str,
    basis: Literal["points", "points_earned_12m"],
    downgrade: Literal["never", "immediate"],
) -> None:
    loyalty = rules(basis=basis, downgrade=downgrade)
    member_id = member_who_spent(database_url, 600, loyalty)
    outcome = redeem(
        database_url,
        member_id,
        "R-1",
        "coffee",
        rewards=REWARDS,
        rules=loyalty,
        at=START + timedelta(days=1),
    )
    assert [e.type for e in outcome.events] == ["points.redeemed"]
    assert tier(database_url, member_id) == "Silver"
