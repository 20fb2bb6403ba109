"""Loyalty rules at ingestion: points, tiers, derived events, consent and profile changes."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.config import Settings
from loyalflow.members.ingest import StoredEvent, store_events
from loyalflow.members.profile import get_member
from loyalflow.models.api import EventIn
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event
from loyalflow.rules.loyalty import LoyaltyRules, TierLadder, TierLevel, rules_from

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
LADDER = (
    TierLevel(name="Bronze", threshold=0),
    TierLevel(name="Silver", threshold=500),
    TierLevel(name="Gold", threshold=2000),
)


def rules(**ladder: Any) -> LoyaltyRules:
    return LoyaltyRules(points_per_unit=1, tiers=TierLadder(levels=LADDER, **ladder))


def event(member_id: str, type: str, at: datetime = T0, **properties: Any) -> EventIn:
    return EventIn(
        event_id=str(uuid.uuid4()),
        member_id=member_id,
        type=type,
        occurred_at=at,
        properties=properties,
    )


def ingest(settings: Settings, ladder: LoyaltyRules, *events: EventIn) -> list[StoredEvent]:
    return store_events(settings.effective_database_url, list(events), ladder, BUILT_IN_ONLY)


def derived(stored: list[StoredEvent]) -> list[tuple[str, dict[str, Any]]]:
    return [(s.event.type, s.event.properties) for s in stored if s.derived]


def test_purchases_earn_points_rounded_down_and_refunds_take_them_back(
    settings: Settings, member_id: str
) -> None:
    r = rules()
    ingest(settings, r, event(member_id, "member.joined"))
    ingest(settings, r, event(member_id, "purchase", amount=120.99))
    ingest(settings, r, event(member_id, "purchase", amount=30))
    ingest(settings, r, event(member_id, "purchase", amount=-30))  # refund

    member = get_member(
        settings.effective_database_url, member_id, rules_from(settings.loyalty_rules_file).tiers
    )
    assert member is not None
    assert (member.points, member.purchase_count, member.total_spent) == (120, 2, 120.99)
    assert member.tier == "Bronze"


def test_a_refund_after_the_points_were_spent_leaves_a_negative_balance_in_the_lowest_tier(
    settings: Settings, member_id: str
) -> None:
    r = rules()
    ingest(settings, r, event(member_id, "member.joined"))
    ingest(settings, r, event(member_id, "purchase", amount=40))
    ingest(settings, r, event(member_id, "points.adjusted", points=-40))  # redeemed
    ingest(settings, r, event(member_id, "purchase", amount=-40))  # then refunded

    member = get_member(
        settings.effective_database_url, member_id, rules_from(settings.loyalty_rules_file).tiers
    )
    assert member is not None
    assert (member.points, member.tier) == (-40, "Bronze")


def test_the_first_purchase_is_derived_once_and_linked_to_its_cause(
    settings: Settings, member_id: str
) -> None:
    r = rules()
    ingest(settings, r, event(member_id, "member.joined"))
    first = ingest(settings, r, event(member_id, "purchase", amount=42))
    second = ingest(settings, r, event(member_id, "purchase", amount=8))

    assert derived(first) == [("purchase.first", {"amount": 42.0, "points": 42})]
    assert derived(second) == []
    child = next(s.event for s in first if s.derived)
    assert child.caused_by == first[0].event.event_id
    assert child.event_id == f"{first[0].event.event_id}/purchase.first"


def test_a_purchase_that_jumps_two_tiers_is_one_upgrade(settings: Settings, member_id: str) -> None:
    r = rules()
    ingest(settings, r, event(member_id, "member.joined"))
    stored = ingest(settings, r, event(member_id, "purchase", amount=2500))

    assert ("tier.upgraded", {"from": "Bronze", "to": "Gold"}) in derived(stored)
    member = get_member(
        settings.effective_database_url, member_id, rules_from(settings.loyalty_rules_file).tiers
    )
    assert member is not None and member.tier == "Gold"


def test_refunds_downgrade_only_when_the_rules_say_so(settings: Settings) -> None:
    for downgrade, expected_tier in (("never", "Silver"), ("immediate", "Bronze")):
        member_id = f"M-{uuid.uuid4().hex[:8]}"
        r = rules(downgrade=downgrade)
        ingest(settings, r, event(member_id, "member.joined"))
        ingest(settings, r, event(member_id, "purchase", amount=600))
        refund = ingest(settings, r, event(member_id, "purchase", amount=-200))

        member = get_member(
            settings.effective_database_url,
            member_id,
            rules_from(settings.loyalty_rules_file).tiers,
        )
        assert member is not None and member.tier == expected_tier, downgrade
        downgrades = [d for d in derived(refund) if d[0] == "tier.downgraded"]
        assert downgrades == (
            [("tier.downgraded", {"from": "Silver", "to": "Bronze"})]
            if downgrade == "immediate"
            else []
        )


def test_spend_over_twelve_months_ignores_older_purchases(
    settings: Settings, member_id: str
) -> None:
    r = rules(basis="spend_12m", downgrade="immediate")
    ingest(settings, r, event(member_id, "member.joined", at=T0 - timedelta(days=800)))
    ingest(settings, r, event(member_id, "purchase", at=T0 - timedelta(days=400), amount=400))
    old_only = ingest(settings, r, event(member_id, "purchase", at=T0, amount=200))
    assert derived(old_only) == []  # 400 is outside the window: 200 < 500
    within = ingest(
        settings, r, event(member_id, "purchase", at=T0 + timedelta(days=30), amount=350)
    )
    assert ("tier.upgraded", {"from": "Bronze", "to": "Silver"}) in derived(within)


def test_points_adjustments_move_the_balance_and_the_tier(
    settings: Settings, member_id: str
) -> None:
    r = rules()
    ingest(settings, r, event(member_id, "member.joined"))
    stored = ingest(settings, r, event(member_id, "points.adjusted", points=750))
    assert derived(stored) == [("tier.upgraded", {"from": "Bronze", "to": "Silver"})]
    ingest(settings, r, event(member_id, "points.adjusted", points=-100))
    member = get_member(
        settings.effective_database_url, member_id, rules_from(settings.loyalty_rules_file).tiers
    )
    assert member is not None and (member.points, member.tier) == (650, "Silver")


def test_consent_keeps_the_latest_decision_even_when_events_arrive_late(
    settings: Settings, member_id: str
) -> None:
    r = rules()
    ingest(settings, r, event(member_id, "member.joined"))
    grant = {"channel": "sms", "topic": "offers", "status": "granted", "source": "signup"}
    revoke = {**grant, "status": "revoked", "source": "sms-stop"}
    ingest(settings, r, event(member_id, "consent.updated", at=T0 + timedelta(days=2), **revoke))
    ingest(settings, r, event(member_id, "consent.updated", at=T0 + timedelta(days=1), **grant))

    member = get_member(
        settings.effective_database_url, member_id, rules_from(settings.loyalty_rules_file).tiers
    )
    assert member is not None
    assert [(c.channel, c.topic, c.status, c.source) for c in member.consents] == [
        ("sms", "offers", "revoked", "sms-stop")
    ]


def test_profile_updates_change_only_the_fields_given(settings: Settings, member_id: str) -> None:
    r = rules()
    ingest(settings, r, event(member_id, "member.joined"))
    ingest(settings, r, event(member_id, "profile.updated", email="a@example.com", locale="fr"))
    ingest(settings, r, event(member_id, "profile.updated", first_name="Ana"))
    member = get_member(
        settings.effective_database_url, member_id, rules_from(settings.loyalty_rules_file).tiers
    )
    assert member is not None
    assert (member.email, member.locale, member.first_name) == ("a@example.com", "fr", "Ana")


def test_concurrent_first_purchases_count_every_purchase_and_one_first(
    settings: Settings, member_id: str
) -> None:
    r = rules()
    ingest(settings, r, event(member_id, "member.joined"))
    purchases = [event(member_id, "purchase", amount=10) for _ in range(12)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda e: ingest(settings, r, e), purchases))

    member = get_member(
        settings.effective_database_url, member_id, rules_from(settings.loyalty_rules_file).tiers
    )
    assert member is not None
    assert (member.purchase_count, member.points, member.total_spent) == (12, 120, 120.0)
    with session_scope(settings.effective_database_url) as session:
        firsts = session.exec(
            select(Event).where(Event.member_id == member_id, col(Event.type) == "purchase.first")
        ).all()
    assert len(firsts) == 1


def test_concurrent_batches_over_the_same_members_in_any_order_do_not_deadlock(
    settings: Settings,
) -> None:
    """Each batch locks its members; in inconsistent orders, PostgreSQL would deadlock."""
    r = rules()
    members = [f"DL-{uuid.uuid4().hex[:6]}-{n}" for n in range(6)]
    ingest(settings, r, *(event(m, "member.joined") for m in members))
    batches = [
        [event(m, "purchase", amount=1) for m in (members if n % 2 else members[::-1])]
        for n in range(12)
    ]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda batch: ingest(settings, r, *batch), batches))

    for member_id in members:
        member = get_member(
            settings.effective_database_url,
            member_id,
            rules_from(settings.loyalty_rules_file).tiers,
        )
        assert member is not None and member.purchase_count == 12
