"""The points ledger: the balance is the sum of the ledger, lots are spent oldest first."""

import math
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, func, select

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.members.ingest import store_events
from loyalflow.models.api import EventIn
from loyalflow.models.db import session_scope
from loyalflow.models.points_tables import PointsLedger, PointsLot
from loyalflow.models.tables import Member
from loyalflow.rules.loyalty import LoyaltyRules, TierLadder, TierLevel
from loyalflow.rules.points_expiry import PointsExpiry

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
LADDER = TierLadder(levels=(TierLevel(name="Bronze", threshold=0),))
PER_LOT = LoyaltyRules(tiers=LADDER, points_expiry=PointsExpiry(policy="per_lot", months=12))

purchases = st.builds(
    # Refunds with an order take back what the order earned; without one, the base rate.
    lambda amount, order: ("purchase", {"amount": amount, **order}),
    st.decimals(min_value=-300, max_value=600, places=2).map(float),
    st.sampled_from([{}, {"order_id": "A"}, {"order_id": "B"}]),
)
adjustments = st.builds(
    lambda points, source: ("points.adjusted", {"points": points, **source}),
    st.integers(min_value=-400, max_value=400),
    st.sampled_from([{}, {"source": "journey:winback.bonus"}]),
)


def events_for(member_id: str, steps: list[tuple[str, dict[str, object]]]) -> list[EventIn]:
    joined = EventIn(
        event_id=f"{member_id}/0", member_id=member_id, type="member.joined", occurred_at=START
    )
    return [joined] + [
        EventIn(
            event_id=f"{member_id}/{n}",
            member_id=member_id,
            type=kind,
            occurred_at=START + timedelta(days=n),
            properties=properties,
        )
        for n, (kind, properties) in enumerate(steps, start=1)
    ]


def check_invariants(url: str, member_id: str) -> int:
    with session_scope(url) as session:
        member = session.get(Member, member_id)
        assert member is not None
        ledger_sum = session.exec(
            select(func.coalesce(func.sum(PointsLedger.points), 0)).where(
                PointsLedger.member_id == member_id
            )
        ).one()
        lots = session.exec(select(PointsLot).where(PointsLot.member_id == member_id)).all()
    assert member.points == ledger_sum
    assert sum(lot.remaining for lot in lots) == max(member.points, 0)
    assert all(0 <= lot.remaining <= lot.original for lot in lots)
    return member.points


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(st.one_of(purchases, adjustments), max_size=12), batched=st.booleans())
def test_the_balance_is_always_the_sum_of_the_ledger(
    database_url: str, steps: list[tuple[str, dict[str, object]]], batched: bool
) -> None:
    member_id = f"H-{uuid.uuid4().hex[:10]}"
    events = events_for(member_id, steps)
    if batched:  # one transaction for the lot, or one per event: the same ledger
        store_events(database_url, events, PER_LOT, BUILT_IN_ONLY)
    else:
        for event in events:
            store_events(database_url, [event], PER_LOT, BUILT_IN_ONLY)
    store_events(database_url, events, PER_LOT, BUILT_IN_ONLY)  # a replayed batch changes nothing
    assert check_invariants(database_url, member_id) == expected_balance(steps)


def expected_balance(steps: list[tuple[str, dict[str, object]]]) -> int:
    """The rules in plain Python: a purchase earns the base rate; a refund naming an order
    takes back the refunded share of what the order earned (all of it once fully refunded,
    never more), else the base rate of its amount."""
    paid: dict[str, Decimal] = defaultdict(Decimal)
    earned: dict[str, int] = defaultdict(int)
    refunded: dict[str, Decimal] = defaultdict(Decimal)
    taken: dict[str, int] = defaultdict(int)
    balance = 0
    for kind, props in steps:
        if kind != "purchase":
            balance += int(str(props["points"]))
            continue
        amount = Decimal(str(props["amount"])).quantize(Decimal("0.01"))
        base, order = PER_LOT.points_for(amount), props.get("order_id")
        if order is None or amount >= 0:
            balance += base
            if order is not None and amount > 0:
                paid[str(order)] += amount
                earned[str(order)] += base
            continue
        refunded[str(order)] -= amount
        if paid[str(order)] == 0:
            take = -base
        else:
            whole = refunded[str(order)] >= paid[str(order)]
            share = earned[str(order)] * refunded[str(order)] / paid[str(order)]
            due = earned[str(order)] if whole else math.floor(share)
            take = max(0, due - taken[str(order)])
        taken[str(order)] += take
        balance -= take
    return balance


def test_spending_takes_the_oldest_lots_first_and_names_them(database_url: str) -> None:
    member_id = f"F-{uuid.uuid4().hex[:10]}"
    steps: list[tuple[str, dict[str, object]]] = [
        ("purchase", {"amount": 100}),
        ("purchase", {"amount": 50}),
        ("points.adjusted", {"points": -120}),
    ]
    store_events(database_url, events_for(member_id, steps), PER_LOT, BUILT_IN_ONLY)
    with session_scope(database_url) as session:
        lots = session.exec(
            select(PointsLot).where(PointsLot.member_id == member_id).order_by(col(PointsLot.id))
        ).all()
        rows = session.exec(
            select(PointsLedger)
            .where(PointsLedger.member_id == member_id)
            .order_by(col(PointsLedger.id))
        ).all()
    assert [(lot.original, lot.remaining) for lot in lots] == [(100, 0), (50, 30)]
    assert lots[0].expires_at == START + timedelta(days=1) + timedelta(days=365)
    assert [(r.kind, r.points, r.event_id) for r in rows] == [
        ("earned", 100, f"{member_id}/1"),
        ("earned", 50, f"{member_id}/2"),
        ("adjusted", -120, f"{member_id}/3"),
    ]
    assert rows[2].lots == [[lots[0].id, 100], [lots[1].id, 20]]


def test_a_journey_award_is_a_bonus_and_a_refund_is_reversed(database_url: str) -> None:
    member_id = f"B-{uuid.uuid4().hex[:10]}"
    steps: list[tuple[str, dict[str, object]]] = [
        ("points.adjusted", {"points": 200, "source": "journey:winback.bonus"}),
        ("purchase", {"amount": 80}),
        ("purchase", {"amount": -80}),
    ]
    store_events(database_url, events_for(member_id, steps), PER_LOT, BUILT_IN_ONLY)
    with session_scope(database_url) as session:
        kinds = session.exec(
            select(PointsLedger.kind, PointsLedger.points)
            .where(PointsLedger.member_id == member_id)
            .order_by(col(PointsLedger.id))
        ).all()
    assert list(kinds) == [("bonus", 200), ("earned", 80), ("reversed", -80)]
    assert check_invariants(database_url, member_id) == 200
