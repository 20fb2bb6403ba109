"""`member_activity_month` as ingestion keeps it: one row per member and UTC month with activity,
orders and spend as the member's own counters count them; equal to a rebuild from the events."""

import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, text

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.config import Settings
from loyalflow.members import activity_months
from loyalflow.members.ingest import store_events, upsert_member
from loyalflow.models.api import EventIn, MemberIn
from loyalflow.models.db import get_engine
from loyalflow.rules.loyalty import load_rules


def _rows(url: str, members: list[str]) -> dict[tuple[str, int], tuple[int, Decimal]]:
    with get_engine(url).connect() as connection:
        found = connection.execute(
            text(
                "SELECT member_id, month, purchases, spent FROM member_activity_month"
                " WHERE member_id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {"ids": members},
        )
        return {(r[0], r[1]): (r[2], Decimal(str(r[3])).quantize(Decimal("0.01"))) for r in found}


def test_ingestion_keeps_a_row_per_member_and_month(database_url: str) -> None:
    url = database_url
    tag = uuid.uuid4().hex[:8]
    a, b = f"am-a-{tag}", f"am-b-{tag}"
    # 31 January 23:30 UTC is January, though it is February in Paris.
    base = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
    happenings: list[tuple[str, str, datetime, dict[str, Any]]] = [
        (a, "member.joined", base, {}),
        (a, "purchase", base + timedelta(minutes=10), {"amount": 100}),
        (a, "purchase", base + timedelta(minutes=40), {"amount": 20.5}),  # February
        (a, "purchase", base + timedelta(days=1), {"amount": -20.5}),  # a refund: not an order
        (a, "points.adjusted", base + timedelta(days=40), {"points": 5}),  # not activity
        (b, "member.joined", base + timedelta(days=2), {}),
        (b, "visit", base + timedelta(days=3), {}),
        (b, "visit", base + timedelta(days=60), {}),
    ]
    rules = load_rules(Settings(_env_file=None).loyalty_rules_file)
    # Two batches, so a month's row is added to, not only inserted.
    events = [
        EventIn(event_id=f"am-{tag}-{i}", member_id=m, type=t, occurred_at=at, properties=p)
        for i, (m, t, at, p) in enumerate(happenings)
    ]
    store_events(url, events[:2], rules, BUILT_IN_ONLY)
    store_events(url, events[2:], rules, BUILT_IN_ONLY)

    expected: dict[tuple[str, int], list[Any]] = defaultdict(lambda: [0, Decimal("0.00")])
    for member, kind, at, properties in happenings:
        if kind not in ("member.joined", "purchase", "visit"):
            continue
        row = expected[(member, at.year * 12 + at.month)]
        if kind == "purchase":
            amount = Decimal(str(properties["amount"])).quantize(Decimal("0.01"))
            row[1] += amount
            row[0] += 1 if amount >= 0 else 0
    assert _rows(url, [a, b]) == {key: tuple(value) for key, value in expected.items()}
    assert _rows(url, [a, b])[(a, 2026 * 12 + 2)] == (1, Decimal("0.00"))

    with get_engine(url).begin() as connection:
        activity_months.rebuild(connection)
    assert _rows(url, [a, b]) == {key: tuple(value) for key, value in expected.items()}


def _cohort_counts(url: str) -> Counter[tuple[int, int]]:
    with get_engine(url).connect() as connection:
        found = connection.execute(text("SELECT cohort, month, members FROM cohort_activity"))
        return Counter({(r[0], r[1]): r[2] for r in found})


def test_cohort_counts_follow_new_months_and_late_joins(database_url: str) -> None:
    """Each member counts once per month of activity, in the cohort of their join month; a
    member first seen through other events (created today) whose `member.joined` arrives later
    moves, with the months they already had, to the cohort of that join."""
    url = database_url
    tag = uuid.uuid4().hex[:8]
    late, early = f"co-late-{tag}", f"co-early-{tag}"
    rules = load_rules(Settings(_env_file=None).loyalty_rules_file)

    def at(year: int, month: int, day: int) -> datetime:
        return datetime(year, month, day, 12, tzinfo=UTC)

    def ingest(batch: str, *happenings: tuple[str, str, datetime]) -> None:
        events = [
            EventIn(
                event_id=f"co-{tag}-{batch}-{i}",
                member_id=member,
                type=kind,
                occurred_at=when,
                properties={"amount": 10} if kind == "purchase" else {},
            )
            for i, (member, kind, when) in enumerate(happenings)
        ]
        store_events(url, events, rules, BUILT_IN_ONLY)

    before = _cohort_counts(url)
    upsert_member(url, late, MemberIn())  # created today, as a shop's import would
    ingest(
        "1",
        (late, "visit", at(2026, 1, 15)),
        (late, "purchase", at(2026, 2, 3)),
        (early, "member.joined", at(2026, 1, 5)),
        (early, "visit", at(2026, 1, 20)),  # the same month: no second count
    )
    ingest(
        "2",
        (late, "member.joined", at(2025, 12, 20)),
        (late, "visit", at(2026, 3, 1)),
        (early, "visit", at(2026, 3, 10)),
    )
    after = _cohort_counts(url)
    change = {key: after[key] - before[key] for key in after | before if after[key] != before[key]}

    def month(year: int, number: int) -> int:
        return year * 12 + number

    december_2025, january = month(2025, 12), month(2026, 1)
    assert change == {
        (december_2025, december_2025): 1,  # the join itself is activity
        (december_2025, january): 1,
        (december_2025, month(2026, 2)): 1,
        (december_2025, month(2026, 3)): 1,
        (january, january): 1,
        (january, month(2026, 3)): 1,
    }
