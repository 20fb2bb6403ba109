"""Segment conditions as SQL on real databases: the pre-filter never loses a member."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import col, select

from loyalflow.activities.segment_query import member_facts, prefilter
from loyalflow.models.conditions import parse_condition
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Member

AS_OF = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MICROSECOND = timedelta(microseconds=1)
# Members on both sides of every boundary the conditions below draw.
MEMBERS: list[dict[str, Any]] = [
    {
        "tier": "Gold",
        "points": 500,
        "purchase_count": 5,
        "total_spent": Decimal("120.99"),
        "locale": "fr",
        "joined_at": AS_OF - 400 * DAY,
        "last_purchase_at": AS_OF - 31 * DAY,
        "last_activity_at": AS_OF - 90 * DAY,
        "attributes": {"vip": True, "tags": ["vip"], "score": 12},
    },
    {
        "tier": "Platinum",
        "points": 0,
        "total_spent": Decimal("100.00"),
        "joined_at": AS_OF - 90 * DAY,
        "last_purchase_at": AS_OF - 30 * DAY,
        "last_activity_at": AS_OF - 90 * DAY + MICROSECOND,
        "attributes": {"tags": []},
    },
    {
        "tier": "Silver",
        "points": 50,
        "total_spent": Decimal("100.01"),
        "joined_at": AS_OF - 10 * DAY,
        "last_activity_at": AS_OF - 91 * DAY - timedelta(hours=1),
        "attributes": {"vip": False, "score": "12"},
    },
    {"tier": None, "points": 0, "attributes": {}},
    {
        "tier": "",
        "points": 10,
        "locale": "fr",
        "joined_at": AS_OF + 2 * DAY,
        "last_activity_at": AS_OF + 2 * DAY,
        "attributes": {"score": 9.5, "tags": ["vip", "early"]},
    },
    {
        "tier": "Bronze",
        "points": 1,
        "total_spent": Decimal("99.99"),
        "joined_at": AS_OF - 30 * DAY - MICROSECOND,
        "last_purchase_at": AS_OF - 30 * DAY + MICROSECOND,
        "last_activity_at": AS_OF - 180 * DAY - timedelta(hours=12),
        "attributes": {"vip": True},
    },
    {
        "tier": "Gold",
        "points": 51,
        "joined_at": AS_OF - DAY,
        "last_purchase_at": AS_OF - 12 * timedelta(hours=1),
        "last_activity_at": AS_OF - 89 * DAY - timedelta(hours=12),
        "attributes": {"vip": "yes", "tags": "vip"},
    },
    {
        "tier": "Platinum",
        "points": 10**9,
        "total_spent": Decimal("99999999999.99"),
        "joined_at": AS_OF - 1000 * DAY,
        "last_purchase_at": AS_OF,
        "last_activity_at": AS_OF,
        "attributes": {"score": None},
    },
]
# Conditions SQL expresses completely: the database alone selects exactly the right members.
COMPILED = [
    "days_since(member.last_activity_at) >= 90 and member.points > 0",
    "days_since(member.last_activity_at) > 90",
    "days_since(member.last_activity_at) == 90",
    "days_since(member.last_activity_at) != 90",
    "days_since(member.last_activity_at) <= 89.5",
    "days_since(member.last_activity_at) < 89.5",
    "days_since(member.last_activity_at) == 89.5",
    "days_since(member.last_activity_at) >= -2",
    "days_since(member.last_activity_at) < -1",
    "30 < days_since(member.last_purchase_at)",
    "30 <= days_since(member.last_purchase_at)",
    "days_until(member.joined_at) >= 1",
    "days_until(member.joined_at) < 0",
    "days_until(member.joined_at) == -31",
    "days_until(member.joined_at) > -31 and days_until(member.joined_at) <= -1.5",
    "not (days_since(member.last_activity_at) >= 90)",
    "not days_since(member.last_activity_at) > 90 or member.tier == 'Gold'",
    "member.tier in ['Gold', 'Platinum']",
    "member.tier not in ['Gold', 'Platinum', null]",
    "member.tier in []",
    "member.tier != 'Gold'",
    "'Gold' != member.tier",
    "member.tier == null",
    "member.tier != null",
    "not member.tier",
    "member.tier",
    "not member.points",
    "member.points in [0, 1]",
    "member.points >= 50.5 or member.locale == 'fr'",
    "member.total_spent >= 120.99",
    "member.total_spent > 100 and member.total_spent < 100.02",
    "member.total_spent == 99999999999.99",
    "not member.total_spent",
    "member.points > 999999999",
    "member.last_purchase_at > member.joined_at",
    "member.last_purchase_at == member.last_activity_at",
    "member.last_activity_at and not member.last_purchase_at",
    "member.points == member.purchase_count",
    "true",
    "not (false or null)",
]
# Conditions with parts only the evaluator can decide.
EVALUATED = [
    "member.attributes.vip == true or member.points >= 500",
    "member.attributes.vip",
    "not member.attributes.vip",
    "not (member.attributes.vip or member.total_spent > 100)",
    "not (member.attributes.vip and member.tier == 'Gold')",
    "not (not member.attributes.vip or days_since(member.last_activity_at) < 100)",
    "'vip' in member.tags and member.locale == 'fr'",
    "'vip' not in member.tags",
    "not member.tags",
    "member.tier < 'H'",
    "not (member.tier >= 'H' and member.points > 10)",
    "member.attributes.score >= 10",
    "member.attributes.score == null",
    "days_since(member.last_activity_at) > 10000000000",
    "not (days_until(member.joined_at) < -10000000000)",
    "member.points > 12345678901234567",
    "days_since(member.last_activity_at) > member.points",
    "not days_since(member.last_purchase_at)",
]

# Deliberately met by every member or by none: constants and limits beyond the calendar.
CONSTANT = {
    "days_since(member.last_activity_at) == 89.5",
    "member.tier in []",
    "true",
    "not (false or null)",
    "days_since(member.last_activity_at) > 10000000000",
    "not (days_until(member.joined_at) < -10000000000)",
    "member.points > 12345678901234567",
}


@pytest.fixture(scope="module")
def members(database_url: str) -> tuple[str, list[str]]:
    """The database and the ids of MEMBERS in it (other tests share the database)."""
    prefix = f"SQ-{uuid.uuid4().hex[:8]}"
    ids = [f"{prefix}-{n}" for n in range(len(MEMBERS))]
    with session_scope(database_url) as session:
        session.add_all(Member(id=id_, **fields) for id_, fields in zip(ids, MEMBERS, strict=True))
    return database_url, ids


def selected_by_sql(url: str, ids: list[str], text: str) -> set[str]:
    condition = parse_condition(text, allow_event=False)
    query = select(Member.id).where(col(Member.id).in_(ids), prefilter(condition, AS_OF))
    with session_scope(url) as session:
        return set(session.exec(query))


def selected_by_evaluation(url: str, ids: list[str], text: str, among: set[str]) -> set[str]:
    condition = parse_condition(text, allow_event=False)
    with session_scope(url) as session:
        rows = session.exec(select(Member).where(col(Member.id).in_(among)))
        return {m.id for m in rows if condition.evaluate(member_facts(m), None, AS_OF)}


@pytest.mark.parametrize("text", COMPILED + EVALUATED)
def test_prefilter_then_evaluate_selects_what_evaluating_everyone_selects(
    members: tuple[str, list[str]], text: str
) -> None:
    url, ids = members
    everyone = selected_by_evaluation(url, ids, text, among=set(ids))
    candidates = selected_by_sql(url, ids, text)
    assert candidates >= everyone
    assert selected_by_evaluation(url, ids, text, among=candidates) == everyone


@pytest.mark.parametrize("text", COMPILED)
def test_conditions_sql_can_express_are_exact(members: tuple[str, list[str]], text: str) -> None:
    url, ids = members
    assert selected_by_sql(url, ids, text) == selected_by_evaluation(url, ids, text, set(ids))


@pytest.mark.parametrize("text", sorted(set(COMPILED + EVALUATED) - CONSTANT))
def test_the_members_meet_and_fail_each_condition(
    members: tuple[str, list[str]], text: str
) -> None:
    """Otherwise a condition compiled to TRUE or FALSE would pass the tests above."""
    url, ids = members
    assert 0 < len(selected_by_evaluation(url, ids, text, set(ids))) < len(ids)


def test_uncompilable_parts_under_not_filter_nothing(members: tuple[str, list[str]]) -> None:
    url, ids = members
    assert selected_by_sql(url, ids, "not member.attributes.vip") == set(ids)
    # ...but the compiled rest of a condition still narrows the candidates.
    narrowed = selected_by_sql(url, ids, "not (member.attributes.vip or member.points > 10)")
    assert narrowed == {i for i, m in zip(ids, MEMBERS, strict=True) if m["points"] <= 10}


def test_member_facts_are_what_the_evaluator_reads(members: tuple[str, list[str]]) -> None:
    url, ids = members
    with session_scope(url) as session:
        gold, no_tier = session.get(Member, ids[0]), session.get(Member, ids[3])
        assert gold is not None and no_tier is not None
        assert member_facts(gold) | {"attributes": None} == {
            "tier": "Gold",
            "points": 500,
            "purchase_count": 5,
            "total_spent": Decimal("120.99"),
            "locale": "fr",
            "timezone": "UTC",
            "joined_at": AS_OF - 400 * DAY,
            "first_purchase_at": None,
            "last_purchase_at": AS_OF - 31 * DAY,
            "last_activity_at": AS_OF - 90 * DAY,
            "tags": ["vip"],
            "attributes": None,
        }
        assert member_facts(gold)["attributes"] == MEMBERS[0]["attributes"]
        assert member_facts(no_tier)["tags"] == []


def test_prefilter_refuses_event_conditions_and_naive_times() -> None:
    with pytest.raises(ValueError, match="cannot read the event"):
        prefilter(parse_condition("event.amount > 1"), AS_OF)
    with pytest.raises(ValueError, match="aware"):
        prefilter(parse_condition("member.points > 1"), datetime(2026, 3, 1))
