"""`member_activity_month` as ingestion keeps it: one row per member and UTC month with activity,
orders and spend as the member's own counters count them; equal to a rebuild from the events."""

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, text

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.config import Settings
from loyalflow.members import activity_months
from loyalflow.members.ingest import store_events
from loyalflow.models.api import EventIn
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
