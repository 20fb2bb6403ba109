"""Promotions: multipliers in their dates and timezone, with conditions; best-of or stacked."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.members.ingest import store_events
from loyalflow.members.promotions import check_promotions
from loyalflow.models.api import EventIn
from loyalflow.models.db import session_scope
from loyalflow.models.points_tables import PointsLedger
from loyalflow.rules.loyalty import (
    LoyaltyRules,
    LoyaltyRulesError,
    TierLadder,
    TierLevel,
    load_rules,
)
from loyalflow.rules.promotions import Promotion, Promotions

LADDER = TierLadder(
    levels=(TierLevel(name="Bronze", threshold=0), TierLevel(name="Gold", threshold=500))
)
WEEKEND = Promotion(
    id="double-weekend",
    multiplier=2,
    starts=datetime(2026, 12, 5, 0, 0),
    ends=datetime(2026, 12, 7, 0, 0),
    timezone="Europe/Paris",
)
SHOES = Promotion(
    id="shoes",
    multiplier=1.5,
    starts=datetime(2026, 1, 1),
    ends=datetime(2027, 1, 1),
    condition="event.category == 'shoes'",
)
GOLD = Promotion(
    id="gold-triple",
    multiplier=3,
    starts=datetime(2026, 1, 1),
    ends=datetime(2027, 1, 1),
    condition="member.tier == 'Gold'",
)


def rules(overlapping: str) -> LoyaltyRules:
    return LoyaltyRules(
        tiers=LADDER,
        promotions=Promotions(overlapping=overlapping, offers=(WEEKEND, SHOES, GOLD)),
    )


def earned(
    url: str, overlapping: str, purchases: list[tuple[datetime, dict[str, object]]]
) -> list[tuple[int, str | None]]:
    member_id = f"P-{uuid.uuid4().hex[:10]}"
    joined = EventIn(
        event_id=f"{member_id}/j",
        member_id=member_id,
        type="member.joined",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    events = [joined] + [
        EventIn(
            event_id=f"{member_id}/{n}",
            member_id=member_id,
            type="purchase",
            occurred_at=at,
            properties=props,
        )
        for n, (at, props) in enumerate(purchases)
    ]
    store_events(url, events, rules(overlapping), BUILT_IN_ONLY)
    with session_scope(url) as session:
        return [
            (row.points, row.promotion)
            for row in session.exec(
                select(PointsLedger)
                .where(PointsLedger.member_id == member_id)
                .order_by(col(PointsLedger.id))
            )
        ]


def test_dates_are_in_the_promotions_timezone(database_url: str) -> None:
    friday_late_utc = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)  # Saturday 00:30 in Paris
    friday_evening_utc = datetime(2026, 12, 4, 22, 30, tzinfo=UTC)  # still Friday in Paris
    assert earned(
        database_url,
        "best",
        [(friday_evening_utc, {"amount": 100}), (friday_late_utc, {"amount": 100})],
    ) == [
        (100, None),
        (200, "double-weekend"),
    ]


def test_best_one_wins_or_they_stack(database_url: str) -> None:
    saturday = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    shoes = {"amount": 100, "category": "shoes"}
    assert earned(database_url, "best", [(saturday, shoes)]) == [(200, "double-weekend")]
    assert earned(database_url, "stack", [(saturday, shoes)]) == [(300, "double-weekend+shoes")]


def test_a_condition_on_the_member(database_url: str) -> None:
    october = datetime(2026, 10, 1, tzinfo=UTC)
    # The first purchase makes the member Gold; the second is tripled.
    assert earned(
        database_url, "best", [(october, {"amount": 600}), (october, {"amount": 10})]
    ) == [
        (600, None),
        (30, "gold-triple"),
    ]


def test_bad_promotions_are_reported(tmp_path: Path) -> None:
    broken = rules("best").model_copy(
        update={
            "promotions": Promotions(
                offers=(GOLD.model_copy(update={"condition": "member.tier =="}),)
            )
        }
    )
    [problem] = check_promotions(broken)
    assert problem.startswith("promotions.offers[0].condition (gold-triple):")
    path = tmp_path / "loyalty.yaml"
    path.write_text(
        "tiers:\n  levels: [{name: B, threshold: 0}]\npromotions:\n  offers:\n"
        "    - {id: x, multiplier: 2, starts: 2026-01-01T00:00, ends: 2026-02-01T00:00,\n"
        "       timezone: Mars/Olympus}\n"
    )
    with pytest.raises(
        LoyaltyRulesError, match=r"line 6: promotions\.offers\.0\.timezone: .*unknown timezone"
    ):
        load_rules(path)
