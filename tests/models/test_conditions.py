"""The condition language: grammar, load-time type errors with columns, and evaluation semantics."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from loyalflow.models.conditions import (
    Condition,
    ConditionError,
    ConditionText,
    SegmentConditionText,
    parse_condition,
)
from loyalflow.models.conditions_parser import Comparison, Constant, Logical, Not

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GOLD_MEMBER: dict[str, Any] = {
    "tier": "Gold",
    "points": 120,
    "purchase_count": 3,
    "total_spent": Decimal("120.99"),
    "locale": "fr",
    "timezone": "Europe/Paris",
    "joined_at": NOW - timedelta(days=400),
    "last_purchase_at": NOW - timedelta(days=31),
    "last_activity_at": NOW - timedelta(days=2),
    "tags": ["vip", "newsletter"],
    "attributes": {"vip": True, "favourite": {"store": "Lyon"}},
}


def holds(
    text: str, member: dict[str, Any] | None = None, event: dict[str, Any] | None = None
) -> bool:
    condition = parse_condition(text)
    return condition.evaluate(GOLD_MEMBER if member is None else member, event, NOW)


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("member.tierr == 'Gold'", "member has no field 'tierr' (did you mean 'tier'?)", 8),
        (
            "member.shoe_size > 40",
            "member has no field 'shoe_size'; read custom attributes with "
            "member.attributes.shoe_size",
            8,
        ),
        ("member.tier.name == 'x'", "member.tier has no fields", 13),
        ("member == 1", "write member.<field>, e.g. member.tier", 1),
        ("event == 1", "write event.<property>, e.g. event.amount", 1),
        (
            "membr.points > 1",
            "unknown name 'membr' (did you mean 'member'?); conditions read member.<field> and "
            "event.<property>",
            1,
        ),
        ("member.points == 'ten'", "cannot compare member.points (a number) with 'ten' (text)", 18),
        (
            "'Gold' == member.total_spent",
            "cannot compare 'Gold' (text) with member.total_spent (a number)",
            11,
        ),
        (
            "member.tier in ['Gold', 3]",
            "cannot compare member.tier (text) with 3 (a number)",
            25,
        ),
        (
            "member.points in member.tags",
            "cannot compare member.points (a number) with items of member.tags (text)",
            18,
        ),
        (
            "member.points > true",
            "'>' needs numbers, text or dates, not true (true/false)",
            17,
        ),
        ("member.tags < ['a']", "'<' needs numbers, text or dates, not member.tags (a list)", 1),
        (
            "member.points >= null",
            "'>=' with null is always false; use '== null' or '!= null'",
            18,
        ),
        (
            "member.tier in 'Gold'",
            "'in' needs a list on its right, such as ['Gold', 'Platinum'] or member.tags",
            16,
        ),
        (
            "member.tier not in member.points",
            "'not in' needs a list on its right, such as ['Gold', 'Platinum'] or member.tags",
            20,
        ),
        (
            "days_since(member.points) > 3",
            "days_since() needs a date, but member.points (a number) is not one",
            12,
        ),
        ("days_since(null) > 3", "days_since() needs a date, but null (null) is not one", 12),
        (
            "member.joined_at == '2025-01-01'",
            "cannot compare member.joined_at (a date) with '2025-01-01' (text)",
            21,
        ),
        (
            "day_since(member.joined_at) > 3",
            "unknown function 'day_since' (did you mean 'days_since'?)",
            1,
        ),
        ("age(member.joined_at) > 3", "unknown function 'age'", 1),
        ("days_since() > 3", "days_since() takes 1 argument, not 0", 1),
        (
            "1 + days_until(member.joined_at, member.last_activity_at)",
            "unexpected character '+'",
            3,
        ),
        (
            "days_until(member.joined_at, member.last_activity_at) > 1",
            "days_until() takes 1 argument, not 2",
            1,
        ),
        (
            "(days_since(member.joined_at) == 1) > 2",
            "'>' needs numbers, text or dates, not the expression (true/false)",
            2,
        ),
        ("member.points = 3", "use '==' to compare", 15),
        ("member.tier == 'Gold", "this text has no closing '", 16),
        ("member.points > 1 &&", "unexpected character '&'", 19),
        ("member.points >", "expected a value, found the end of the condition", 16),
        ("", "the condition is empty", 1),
        ("   ", "the condition is empty", 1),
        (
            "member.points > 1 member.points",
            "expected 'and', 'or' or the end of the condition, found 'member'",
            19,
        ),
        (
            "1 < member.points < 10",
            "chained comparisons are not supported; join them with 'and'",
            19,
        ),
        (
            "(member.points > 1",
            "expected ')' to close the '(' at column 1, found the end of the condition",
            19,
        ),
        (
            "member.tier in ['Gold', member.locale]",
            "a list may only hold plain values such as 'Gold' or 10",
            25,
        ),
        (
            "member.tier in ['Gold' 'Silver']",
            "expected ',' or ']' in the list, found \"'Silver'\"",
            24,
        ),
        ("member. == 1", "expected a name after '.', found '=='", 9),
        ("not", "expected a value, found the end of the condition", 4),
        ("member.points > 1 and or", "expected a value, found 'or'", 23),
    ],
)
def test_mistakes_are_reported_with_their_column(text: str, message: str, column: int) -> None:
    with pytest.raises(ConditionError) as raised:
        parse_condition(text)
    assert (raised.value.message, raised.value.column) == (message, column)
    assert str(raised.value) == f"column {column}: {message}"


def test_segment_conditions_cannot_read_the_event() -> None:
    text = "member.points > 0 and event.amount > 5"
    assert parse_condition(text).reads_event
    with pytest.raises(ConditionError) as raised:
        parse_condition(text, allow_event=False)
    assert (
        raised.value.message == "segment conditions have no event: only member fields can be used"
    )
    assert raised.value.column == 23


def test_and_binds_tighter_than_or_and_not_tighter_than_and() -> None:
    expression = parse_condition(
        "member.points > 1 or member.tier == 'x' and not member.locale"
    ).expression
    assert isinstance(expression, Logical) and expression.operator == "or"
    assert isinstance(expression.operands[0], Comparison)
    conjunction = expression.operands[1]
    assert isinstance(conjunction, Logical) and conjunction.operator == "and"
    assert isinstance(conjunction.operands[1], Not)
    # (points > 100 or tier == 'Silver') and locale == 'en' would be false for this member.
    assert holds("member.points > 100 or member.tier == 'Silver' and member.locale == 'en'")
    assert not holds("(member.points > 100 or member.tier == 'Silver') and member.locale == 'en'")
    assert not holds("not member.points == 120")
    assert holds("not member.points == 1 and not (member.tier == 'Silver')")


def test_a_long_chain_of_or_is_one_node() -> None:
    text = "member.points == 1 or member.points == 2 or member.points == 120"
    expression = parse_condition(text).expression
    assert isinstance(expression, Logical) and len(expression.operands) == 3
    assert holds(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("member.tier in ['Gold', 'Platinum']", True),
        ("member.tier not in ['Gold', 'Platinum']", False),
        ("member.tier in []", False),
        ("member.tier not in ['Silver']", True),
        ("'vip' in member.tags", True),
        ("'gold' in member.tags", False),
        ("'gold' not in member.tags", True),
        ("member.points in [1, 120.0]", True),
        ('member.attributes.favourite.store in ["Lyon", "Paris"]', True),
        ("member.attributes.missing in ['Lyon']", False),
        ("member.attributes.missing not in ['Lyon']", True),
        ("'Lyon' in member.attributes.favourite", False),  # a mapping is not a list
    ],
)
def test_membership(text: str, expected: bool) -> None:
    assert holds(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("member.tier == null", True),
        ("member.tier != null", False),
        ("member.tier != 'Gold'", True),
        ("member.tier == 'Gold'", False),
        ("member.tier < 'Z'", False),
        ("member.tier >= ''", False),
        ("member.points > 0", False),
        ("member.points <= 0", False),
        ("not (member.points > 0)", True),
        ("member.tier in ['Gold', null]", False),
        ("member.tier not in ['Gold']", True),
        ("not member.tier", True),
        ("member.tier", False),
        ("days_since(member.last_purchase_at) > 30", False),
        ("days_since(member.last_purchase_at) == null", True),
        ("days_since(member.last_purchase_at) > 30 or not member.points", True),
        ("member.attributes.vip == null", True),
        ("'vip' in member.tags", False),
        ("event.amount == null", True),
    ],
)
def test_null_semantics(text: str, expected: bool) -> None:
    empty_member: dict[str, Any] = {"tier": None, "attributes": None}
    assert holds(text, empty_member, event=None) is expected


@pytest.mark.parametrize(
    ("moment", "since", "until"),
    [
        (NOW, 0, 0),
        (NOW - timedelta(hours=23), 0, -1),
        (NOW - timedelta(hours=25), 1, -2),
        (NOW - timedelta(days=30), 30, -30),
        (NOW - timedelta(days=30, microseconds=-1), 29, -30),
        (NOW + timedelta(hours=1), -1, 0),
        (NOW + timedelta(days=2, hours=1), -3, 2),
        ((NOW - timedelta(days=3)).isoformat(), 3, -3),
        ("2026-02-26T12:00:00Z", 3, -3),
        ("2026-02-26T13:00:00+01:00", 3, -3),
        ("2026-02-26T12:00:00", 3, -3),  # naive means UTC
        ("2026-02-26", 3, -4),  # midnight UTC: 3.5 days ago
        (datetime(2026, 2, 26, 12, 0), 3, -3),
        ("last tuesday", None, None),
        (None, None, None),
    ],
)
def test_days_since_and_until_are_whole_days_rounded_down(
    moment: datetime | str | None, since: int | None, until: int | None
) -> None:
    member = {"last_purchase_at": moment, "attributes": {"birthday": moment}}
    for field in ("member.last_purchase_at", "member.attributes.birthday", "event.at"):
        for function, expected in (("days_since", since), ("days_until", until)):
            text = f"{function}({field}) == {'null' if expected is None else expected}"
            assert holds(text, member, {"at": moment}), text
            assert not holds(f"{function}({field}) > 1000000", member, {"at": moment})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("days_since(member.last_purchase_at) > 30", True),
        ("days_since(member.last_purchase_at) > 31", False),
        ("days_since(member.last_purchase_at) >= 31", True),
        ("days_since(member.last_purchase_at) >= 30.5", True),
        ("days_since(member.last_purchase_at) == 30.5", False),
        ("days_since(member.last_activity_at) < 7 and days_until(member.joined_at) < 0", True),
    ],
)
def test_days_since_in_conditions(text: str, expected: bool) -> None:
    assert holds(text) is expected


@pytest.mark.parametrize(
    ("text", "event", "expected"),
    [
        ("event.amount >= 50", {"amount": 50}, True),
        ("event.amount >= 50", {"amount": 49.99}, False),
        ("event.amount >= 50", {"amount": Decimal("50.00")}, True),
        ("event.amount == 0.1", {"amount": 0.1}, True),
        ("event.amount == 10", {"amount": 10.0}, True),
        ("event.amount == 10.000", {"amount": 10}, True),
        ("event.amount > -5", {"amount": -4.5}, True),
        ("event.amount > -5", {"amount": -5}, False),
        ("event.amount == 1", {"amount": True}, False),  # true is not a number
        ("event.flag == true", {"flag": True}, True),
        ("event.flag == true", {"flag": 1}, False),
        ("event.amount >= 50", {"amount": "75"}, False),  # text is not a number
        ("event.amount >= 50", {"amount": float("nan")}, False),
        ("event.amount < 50", {"amount": float("nan")}, False),
        ("event.amount >= 50", {"amount": [60]}, False),
        ("event.amount >= 50", {"amount": {"value": 60}}, False),
        ("event.amount != 50", {"amount": "50"}, True),
        ("event.sku == 'A-1'", {"sku": "A-1"}, True),
        ("event.sku < 'B'", {"sku": "A-1"}, True),
        ("event.sku < 'B'", {"sku": 3}, False),
        ("event.items.sku == 'A-1'", {"items": {"sku": "A-1"}}, True),
        ("event.items.sku == 'A-1'", {"items": [{"sku": "A-1"}]}, False),
        ("event.at > member.joined_at", {"at": NOW.isoformat()}, True),
        ("event.at > member.joined_at", {"at": "soon"}, False),
        ("event.list == ['a', 1]", {"list": ["a", 1.0]}, True),
        ("event.list == ['a', 1]", {"list": ["a"]}, False),
        ("event.list == ['a', 1]", {"list": "a1"}, False),
        ("event.tier == member.tier", {"tier": "Gold"}, True),
        ("event.tier == member.tier", {}, False),
        ("'a' in event.skus", {"skus": ["b", "a"]}, True),
        ("'a' in event.skus", {"skus": "abc"}, False),
        ("1 in event.skus", {"skus": [True]}, False),
        ("event.amount", {"amount": 0}, False),
        ("event.amount", {"amount": 0.5}, True),
        ("not event.skus", {"skus": []}, True),
    ],
)
def test_numbers_and_any_typed_data(text: str, event: dict[str, Any], expected: bool) -> None:
    assert holds(text, event=event) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("member.total_spent == 120.99", True),
        ("member.total_spent > 120", True),
        ("member.total_spent >= 121", False),
        ("member.points == 120.00", True),
        ("member.points > 119.5", True),
        ("member.purchase_count in [1, 2, 3]", True),
    ],
)
def test_decimal_and_int_compare_by_value(text: str, expected: bool) -> None:
    assert holds(text) is expected


def test_member_values_that_came_through_json() -> None:
    member = {
        "total_spent": "120.99",  # pydantic's JSON form of a Decimal
        "last_purchase_at": "2026-01-29T12:00:00+00:00",
        "points": 0,
        "tags": ["vip"],
    }
    assert holds(
        "member.total_spent == 120.99 and days_since(member.last_purchase_at) == 31", member
    )
    assert holds("not member.points and 'vip' in member.tags", member)
    assert not holds("member.total_spent > 0", {"total_spent": "a lot"})
    assert not holds("member.joined_at != null", {"joined_at": "not a date"})


def test_literals() -> None:
    assert holds("member.tier == \"Gold\" and 'Gold' == member.tier")
    assert holds(r"event.name == 'O\'Brien'", event={"name": "O'Brien"})
    assert holds(r'event.name == "a \"quoted\" \\ word"', event={"name": 'a "quoted" \\ word'})
    assert holds("true and not false and not null and [1] and not []")
    assert holds("member.tier in ['Gold', 'Platinum',]")
    for source, value in (("2.50", Decimal("2.50")), ("2", 2), ("-7", -7), ("'2'", "2")):
        comparison = parse_condition(f"event.x == {source}").expression
        assert isinstance(comparison, Comparison) and isinstance(comparison.right, Constant)
        assert comparison.right.value == value
        assert type(comparison.right.value) is type(value)


def test_what_a_condition_reads() -> None:
    condition = parse_condition(
        "days_since(member.last_purchase_at) > 30 or member.tier in ['Gold'] "
        "or member.attributes.vip or member.attributes.segment == 'b' or member.tier == 'x'"
    )
    assert condition.member_fields() == frozenset({"last_purchase_at", "tier", "attributes"})
    assert not condition.reads_event
    assert parse_condition("event.amount > 1").member_fields() == frozenset()
    assert parse_condition("not (event.amount > 1)").reads_event


def test_evaluation_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_condition("member.points > 1").evaluate(GOLD_MEMBER, None, datetime(2026, 3, 1))


def test_conditions_are_values() -> None:
    text = "member.points > 1"
    assert parse_condition(text) == parse_condition(text)
    assert isinstance(parse_condition(text), Condition)
    assert hash(parse_condition(text)) == hash(parse_condition(text))


class _Rule(BaseModel):
    when: ConditionText
    segment: SegmentConditionText | None = None


def test_pydantic_fields_validate_and_keep_the_text() -> None:
    rule = _Rule(when="event.amount >= 50", segment="member.points > 0")
    assert rule.when == "event.amount >= 50"
    with pytest.raises(ValidationError) as raised:
        _Rule(when="member.tierr == 'Gold'")
    [error] = raised.value.errors()
    assert "column 8: member has no field 'tierr' (did you mean 'tier'?)" in error["msg"]
    assert error["ctx"]["error"].column == 8  # for the journey loader's file:line:column


def test_pydantic_segment_fields_refuse_event_properties() -> None:
    with pytest.raises(ValidationError) as raised:
        _Rule(when="member.points > 0", segment="member.points > 0 and event.x")
    [error] = raised.value.errors()
    assert error["loc"] == ("segment",)
    assert error["ctx"]["error"].message.startswith("segment conditions have no event")
