"""Redemptions: checked in the deduction's transaction, idempotent, racing safely; cancellation."""

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, func, select

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.members.ingest import EventsRejected, store_events
from loyalflow.members.redemption import RedemptionRefused, redeem
from loyalflow.models.api import EventIn
from loyalflow.models.db import session_scope
from loyalflow.models.points_tables import PointsLedger, PointsLot, Redemption
from loyalflow.models.tables import Event, Member
from loyalflow.rules.loyalty import LoyaltyRules, TierLadder, TierLevel
from loyalflow.rules.points_expiry import PointsExpiry
from loyalflow.rules.rewards import Reward, RewardsCatalogue

LADDER = TierLadder(
    levels=(TierLevel(name="Bronze", threshold=0), TierLevel(name="Gold", threshold=1000))
)
RULES = LoyaltyRules(tiers=LADDER, points_expiry=PointsExpiry(policy="per_lot", months=12))
REWARDS = RewardsCatalogue(
    rewards=(
        Reward(id="coffee", name={"en": "Coffee"}, cost=150),
        Reward(id="lounge", name={"en": "Lounge"}, cost=100, min_tier="Gold"),
        Reward(id="mug", name={"en": "Mug"}, cost=10, stock=1),
        Reward(
            id="summer",
            name={"en": "Summer"},
            cost=10,
            active_until=datetime(2020, 9, 1, tzinfo=UTC),
        ),
    )
)
START = datetime(2026, 3, 1, tzinfo=UTC)


def member_with(url: str, *amounts: int) -> str:
    member_id = f"R-{uuid.uuid4().hex[:10]}"
    events = [
        EventIn(
            event_id=f"{member_id}/j", member_id=member_id, type="member.joined", occurred_at=START
        )
    ]
    events += [
        EventIn(
            event_id=f"{member_id}/{n}",
            member_id=member_id,
            type="purchase",
            occurred_at=START + timedelta(days=n),
            properties={"amount": amount},
        )
        for n, amount in enumerate(amounts, start=1)
    ]
    store_events(url, events, RULES, BUILT_IN_ONLY)
    return member_id


def balance_and_ledger(url: str, member_id: str) -> tuple[int, int]:
    with session_scope(url) as session:
        member = session.get(Member, member_id)
        assert member is not None
        ledger = session.exec(
            select(func.sum(PointsLedger.points)).where(PointsLedger.member_id == member_id)
        ).one()
    return member.points, int(ledger or 0)


def race(url: str, member_id: str) -> list[str]:
    """Two redemptions of the coffee, released at the same instant from two threads."""
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            redeem(url, member_id, f"{member_id}-{n}", "coffee", rewards=REWARDS, rules=RULES)
            outcomes.append("ok")
        except RedemptionRefused as refused:
            outcomes.append(f"{refused.status}: {refused.message}")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_two_redemptions_racing_for_the_last_points_exactly_one_wins(database_url: str) -> None:
    for _ in range(5):
        member_id = member_with(database_url, 150)
        assert race(database_url, member_id) == [
            "409: not enough points: balance 0, cost 150",
            "ok",
        ]
        assert balance_and_ledger(database_url, member_id) == (0, 0)


def test_a_repeated_redemption_id_redeems_once(database_url: str) -> None:
    member_id = member_with(database_url, 400)
    first = redeem(database_url, member_id, "once", "coffee", rewards=REWARDS, rules=RULES)
    again = redeem(database_url, member_id, "once", "coffee", rewards=REWARDS, rules=RULES)
    assert (first.created, again.created) == (True, False)
    assert first.balance == again.balance == 250
    assert [e.type for e in first.events] == ["points.redeemed"]
    assert first.events[0].properties == {
        "redemption_id": "once",
        "reward_id": "coffee",
        "points": 150,
        "balance": 250,
    }
    with pytest.raises(RedemptionRefused) as reused:
        redeem(database_url, member_id, "once", "mug", rewards=REWARDS, rules=RULES)
    assert (reused.value.status, reused.value.field) == (422, "redemption_id")


@pytest.mark.parametrize(
    ("reward", "status", "field", "message"),
    [
        ("nope", 422, "reward_id", "unknown reward 'nope'"),
        ("summer", 422, "reward_id", "reward 'summer' is not active now"),
        ("lounge", 409, "reward_id", "reward 'lounge' needs tier Gold; member is Bronze"),
        ("coffee", 409, "points", "not enough points: balance 100, cost 150"),
    ],
)
def test_a_refusal_names_the_reason_and_changes_nothing(
    database_url: str, reward: str, status: int, field: str, message: str
) -> None:
    member_id = member_with(database_url, 100)
    with pytest.raises(RedemptionRefused) as refused:
        redeem(database_url, member_id, f"{member_id}-r", reward, rewards=REWARDS, rules=RULES)
    assert (refused.value.status, refused.value.field, refused.value.message) == (
        status,
        field,
        message,
    )
    assert balance_and_ledger(database_url, member_id) == (100, 100)
    with session_scope(database_url) as session:
        assert session.get(Redemption, (member_id, f"{member_id}-r")) is None


def test_stock_runs_out_and_a_cancellation_gives_it_back(database_url: str) -> None:
    first, second = member_with(database_url, 50), member_with(database_url, 50)
    mug = f"mug-{uuid.uuid4().hex[:6]}"
    rewards = RewardsCatalogue(rewards=(Reward(id=mug, name={"en": "Mug"}, cost=10, stock=1),))
    redeem(database_url, first, f"{first}-m", mug, rewards=rewards, rules=RULES)
    with pytest.raises(RedemptionRefused, match="out of stock"):
        redeem(database_url, second, f"{second}-m", mug, rewards=rewards, rules=RULES)
    cancel(database_url, first, f"{first}-m")
    redeem(database_url, second, f"{second}-m", mug, rewards=rewards, rules=RULES)


def cancel(url: str, member_id: str, redemption_id: str, at: datetime | None = None) -> None:
    store_events(
        url,
        [
            EventIn(
                event_id=f"cancel-{redemption_id}",
                member_id=member_id,
                type="redemption.cancelled",
                occurred_at=at or datetime.now(UTC),
                properties={"redemption_id": redemption_id},
            )
        ],
        RULES,
        BUILT_IN_ONLY,
    )


def test_cancelling_gives_points_back_to_the_lots_they_came_from(database_url: str) -> None:
    member_id = member_with(database_url, 100, 100)  # two lots, a day apart
    redeem(database_url, member_id, f"{member_id}-c", "coffee", rewards=REWARDS, rules=RULES)
    with session_scope(database_url) as session:
        assert session.exec(
            select(PointsLot.remaining)
            .where(PointsLot.member_id == member_id)
            .order_by(col(PointsLot.id))
        ).all() == [0, 50]
    cancel(database_url, member_id, f"{member_id}-c", at=START + timedelta(days=30))

    assert balance_and_ledger(database_url, member_id) == (200, 200)
    with session_scope(database_url) as session:
        remaining = session.exec(
            select(PointsLot.remaining)
            .where(PointsLot.member_id == member_id)
            .order_by(col(PointsLot.id))
        ).all()
        redemption = session.get(Redemption, (member_id, f"{member_id}-c"))
        kinds = session.exec(
            select(PointsLedger.kind)
            .where(PointsLedger.member_id == member_id)
            .order_by(col(PointsLedger.id))
        ).all()
        redeemed_events = session.exec(
            select(func.count()).where(
                Event.member_id == member_id, Event.type == "points.redeemed"
            )
        ).one()
    assert list(remaining) == [100, 100]
    assert redemption is not None and redemption.status == "cancelled"
    assert list(kinds) == ["earned", "earned", "redeemed", "reversed"]
    assert redeemed_events == 1


def test_points_from_a_lot_expired_since_are_not_given_back(database_url: str) -> None:
    member_id = member_with(database_url, 100, 100)
    redeem(database_url, member_id, f"{member_id}-c", "coffee", rewards=REWARDS, rules=RULES)
    # The first lot expired (12 months after it was earned); the second has not yet.
    cancel(database_url, member_id, f"{member_id}-c", at=START + timedelta(days=366, hours=12))
    assert balance_and_ledger(database_url, member_id) == (100, 100)


def test_cancelling_an_unknown_or_cancelled_redemption_is_refused(database_url: str) -> None:
    member_id = member_with(database_url, 200)
    with pytest.raises(EventsRejected, match="no redemption 'ghost' for this member"):
        cancel(database_url, member_id, "ghost")
    redeem(database_url, member_id, f"{member_id}-x", "coffee", rewards=REWARDS, rules=RULES)
    cancel(database_url, member_id, f"{member_id}-x")
    with pytest.raises(EventsRejected, match="already cancelled"):
        store_events(
            database_url,
            [
                EventIn(
                    event_id=f"again-{member_id}",
                    member_id=member_id,
                    type="redemption.cancelled",
                    occurred_at=datetime.now(UTC),
                    properties={"redemption_id": f"{member_id}-x"},
                )
            ],
            RULES,
            BUILT_IN_ONLY,
        )
    assert balance_and_ledger(database_url, member_id) == (200, 200)
