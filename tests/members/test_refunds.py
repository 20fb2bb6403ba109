"""Refunds take back what the refunded order earned: promotion multipliers included, the
promotion named on the ledger row, partial refunds in proportion and never more in total."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.members.ingest import store_events, upsert_member
from loyalflow.models.api import EventIn, MemberIn
from loyalflow.models.db import session_scope
from loyalflow.models.points_tables import PointsLedger
from loyalflow.models.tables import Member
from loyalflow.rules.loyalty import LoyaltyRules, TierLadder, TierLevel
from loyalflow.rules.promotions import Promotion, Promotions

DOUBLE_DAYS = Promotion(
    id="double-days",
    multiplier=2,
    starts=datetime(2026, 12, 5),
    ends=datetime(2026, 12, 7),
    timezone="Europe/Paris",
)
RULES = LoyaltyRules(
    tiers=TierLadder(levels=(TierLevel(name="Bronze", threshold=0),)),
    promotions=Promotions(offers=(DOUBLE_DAYS,)),
)
PROMOTED = datetime(2026, 12, 5, 12, tzinfo=UTC)
AFTER = PROMOTED + timedelta(days=10)  # no promotion running


def new_member(url: str) -> str:
    member_id = f"RF-{uuid.uuid4().hex[:10]}"
    upsert_member(url, member_id, MemberIn())
    return member_id


def buy(url: str, member_id: str, amount: float, at: datetime, **properties: object) -> None:
    event = EventIn(
        event_id=f"{member_id}/{uuid.uuid4().hex[:8]}",
        member_id=member_id,
        type="purchase",
        occurred_at=at,
        properties={"amount": amount, **properties},
    )
    store_events(url, [event], RULES, BUILT_IN_ONLY)


def ledger(url: str, member_id: str) -> tuple[int, list[tuple[str, int, str | None]]]:
    with session_scope(url) as session:
        member = session.get(Member, member_id)
        rows = session.exec(
            select(PointsLedger.kind, PointsLedger.points, PointsLedger.promotion)
            .where(PointsLedger.member_id == member_id)
            .order_by(col(PointsLedger.id))
        ).all()
    assert member is not None
    return member.points, list(rows)


def test_a_full_refund_takes_back_the_promoted_points_and_names_the_promotion(
    database_url: str,
) -> None:
    member_id = new_member(database_url)
    buy(database_url, member_id, 100, PROMOTED, order_id="O-1")
    buy(database_url, member_id, 40, AFTER, order_id="O-2")

    buy(database_url, member_id, -100, AFTER, order_id="O-1")

    assert ledger(database_url, member_id) == (
        40,
        [
            ("earned", 200, "double-days"),
            ("earned", 40, None),
            ("reversed", -200, "double-days"),
        ],
    )


def test_partial_refunds_take_back_their_share_and_never_more_than_the_order_earned(
    database_url: str,
) -> None:
    member_id = new_member(database_url)
    buy(database_url, member_id, 99.99, PROMOTED, order_id=7001)  # 99 points, doubled: 198

    buy(database_url, member_id, -33.33, AFTER, order_id=7001)  # a third: 66
    buy(database_url, member_id, -33.33, AFTER, order_id=7001)  # two thirds in all: 132
    buy(database_url, member_id, -50, AFTER, order_id=7001)  # past the order: the rest, 66

    balance, rows = ledger(database_url, member_id)
    assert [points for _, points, _ in rows] == [198, -66, -66, -66]
    assert balance == 0


def test_a_refund_without_its_order_takes_back_base_points(database_url: str) -> None:
    member_id = new_member(database_url)
    buy(database_url, member_id, 100, PROMOTED, order_id="O-1")

    buy(database_url, member_id, -30, AFTER)  # no order named
    buy(database_url, member_id, -20, AFTER, order_id="O-unknown")

    assert ledger(database_url, member_id) == (
        150,
        [("earned", 200, "double-days"), ("reversed", -30, None), ("reversed", -20, None)],
    )


def test_a_refund_in_the_same_batch_as_its_purchase(database_url: str) -> None:
    member_id = new_member(database_url)
    events = [
        EventIn(
            event_id=f"{member_id}/{n}",
            member_id=member_id,
            type="purchase",
            occurred_at=PROMOTED + timedelta(hours=n),
            properties={"amount": amount, "order_id": "O-9"},
        )
        for n, amount in enumerate([50, -50])
    ]
    store_events(database_url, events, RULES, BUILT_IN_ONLY)
    assert ledger(database_url, member_id) == (
        0,
        [("earned", 100, "double-days"), ("reversed", -100, "double-days")],
    )
