"""Referrals: both members' points at the first purchase, once; every guard refuses clearly."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.members.ingest import EventsRejected, store_events, upsert_member
from loyalflow.models.api import EventIn, MemberIn
from loyalflow.models.db import session_scope
from loyalflow.models.points_tables import Referral
from loyalflow.models.tables import Event, Member
from loyalflow.rules.loyalty import LoyaltyRules, Referrals, TierLadder, TierLevel

RULES = LoyaltyRules(
    tiers=TierLadder(levels=(TierLevel(name="Bronze", threshold=0),)),
    referrals=Referrals(referrer_points=500, referred_points=200, monthly_cap=2),
)
AT = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def new_member(url: str, email: str | None = None, phone: str | None = None) -> str:
    member_id = f"F-{uuid.uuid4().hex[:10]}"
    upsert_member(url, member_id, MemberIn.model_validate({"email": email, "phone": phone}))
    return member_id


def event(member_id: str, type: str, properties: dict[str, object], at: datetime = AT) -> EventIn:
    return EventIn(
        event_id=f"{member_id}/{type}/{uuid.uuid4().hex[:6]}",
        member_id=member_id,
        type=type,
        occurred_at=at,
        properties=properties,
    )


def points(url: str, member_id: str) -> int:
    with session_scope(url) as session:
        member = session.get(Member, member_id)
        assert member is not None
        return member.points


def test_both_members_get_points_at_the_first_purchase_only(database_url: str) -> None:
    referrer, friend = new_member(database_url), new_member(database_url)
    store_events(
        database_url,
        [event(friend, "member.referred", {"referrer_id": referrer})],
        RULES,
        BUILT_IN_ONLY,
    )
    assert points(database_url, referrer) == 0  # nothing until the friend buys

    first = store_events(
        database_url, [event(friend, "purchase", {"amount": 30})], RULES, BUILT_IN_ONLY
    )
    store_events(database_url, [event(friend, "purchase", {"amount": 30})], RULES, BUILT_IN_ONLY)

    assert (points(database_url, friend), points(database_url, referrer)) == (60 + 200, 500)
    converted = [
        (s.event.member_id, s.event.properties["role"])
        for s in first
        if s.event.type == "referral.converted"
    ]
    assert converted == [(friend, "referred"), (referrer, "referrer")]
    with session_scope(database_url) as session:
        referral = session.get(Referral, friend)
        assert referral is not None and referral.converted_at == AT
        assert (
            len(
                session.exec(
                    select(Event).where(
                        Event.type == "referral.converted", Event.member_id == referrer
                    )
                ).all()
            )
            == 1
        )


@pytest.mark.parametrize(
    "case",
    ["self", "unknown", "second", "same email", "same phone"],
)
def test_guards_refuse_naming_the_field_and_nothing_changes(database_url: str, case: str) -> None:
    referrer = new_member(database_url, email="ada@example.com", phone="+33612345678")
    friend = new_member(
        database_url,
        email="ADA@example.com" if case == "same email" else None,
        phone="+33612345678" if case == "same phone" else None,
    )
    other = new_member(database_url)
    if case == "second":
        store_events(
            database_url,
            [event(friend, "member.referred", {"referrer_id": other})],
            RULES,
            BUILT_IN_ONLY,
        )
    named = {"self": friend, "unknown": "nobody-at-all"}.get(case, referrer)
    expected = {
        "self": "a member cannot refer themselves",
        "unknown": "no member 'nobody-at-all' to be the referrer",
        "second": f"member {friend!r} was already referred by {other!r}",
        "same email": "the referred member has the referrer's email address",
        "same phone": "the referred member has the referrer's phone number",
    }[case]
    with pytest.raises(EventsRejected) as rejected:
        store_events(
            database_url,
            [event(friend, "member.referred", {"referrer_id": named})],
            RULES,
            BUILT_IN_ONLY,
        )
    [problem] = rejected.value.problems
    assert (problem.field, problem.message) == ("properties.referrer_id", expected)
    with session_scope(database_url) as session:
        referral = session.get(Referral, friend)
    assert (referral.referrer_id if referral else None) == (other if case == "second" else None)


def test_a_referrer_has_a_monthly_cap(database_url: str) -> None:
    referrer = new_member(database_url)
    friends = [new_member(database_url) for _ in range(4)]
    for friend in friends[:2]:
        store_events(
            database_url,
            [event(friend, "member.referred", {"referrer_id": referrer})],
            RULES,
            BUILT_IN_ONLY,
        )
    with pytest.raises(EventsRejected, match="reached the cap of 2 referrals in November 2026"):
        store_events(
            database_url,
            [event(friends[2], "member.referred", {"referrer_id": referrer})],
            RULES,
            BUILT_IN_ONLY,
        )
    next_month = AT + timedelta(days=30)
    store_events(
        database_url,
        [event(friends[3], "member.referred", {"referrer_id": referrer}, next_month)],
        RULES,
        BUILT_IN_ONLY,
    )
