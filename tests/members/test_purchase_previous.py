"""`purchase_previous` as ingestion keeps it: each order with the member's previous order
(strictly earlier), whatever order the events arrive in; equal to a rebuild from the events."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, text

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.config import Settings
from loyalflow.members import purchase_previous
from loyalflow.members.ingest import store_events
from loyalflow.models.api import EventIn
from loyalflow.models.column_types import UTCDateTime
from loyalflow.models.db import get_engine
from loyalflow.rules.loyalty import load_rules

CENT = Decimal("0.01")
Rows = dict[str, tuple[str, datetime, datetime | None, int, Decimal]]


def _rows(url: str, members: list[str]) -> Rows:
    with get_engine(url).connect() as connection:
        found = connection.execute(
            text(
                "SELECT event_id, member_id, occurred_at, previous_at, orders_before,"
                " spent_before FROM purchase_previous WHERE member_id IN :ids"
            )
            .bindparams(bindparam("ids", expanding=True))
            .columns(occurred_at=UTCDateTime(), previous_at=UTCDateTime()),
            {"ids": members},
        )
        return {r[0]: (r[1], r[2], r[3], r[4], Decimal(str(r[5])).quantize(CENT)) for r in found}


def test_each_order_knows_the_previous_one_even_when_events_arrive_late(
    database_url: str,
) -> None:
    url = database_url
    tag = uuid.uuid4().hex[:8]
    a, b = f"pp-a-{tag}", f"pp-b-{tag}"
    day = datetime(2026, 3, 1, 12, tzinfo=UTC)

    def at(days: int) -> datetime:
        return day + timedelta(days=days)

    rules = load_rules(Settings(_env_file=None).loyalty_rules_file)

    def ingest(*happenings: tuple[str, str, str, datetime, float | None]) -> None:
        store_events(
            url,
            [
                EventIn(
                    event_id=f"{tag}-{name}",
                    member_id=member,
                    type=kind,
                    occurred_at=when,
                    properties={} if amount is None else {"amount": amount},
                )
                for name, member, kind, when, amount in happenings
            ],
            rules,
            BUILT_IN_ONLY,
        )

    ingest(
        ("a-join", a, "member.joined", at(0), None),
        ("a1", a, "purchase", at(1), 10),
        ("a5", a, "purchase", at(5), 20),
        ("a6-refund", a, "purchase", at(6), -20),  # a refund: not an order
        ("b-join", b, "member.joined", at(0), None),
        ("b3", b, "purchase", at(3), 30),
    )
    # Later batches: a's order of day 3 arrives after day 5's, then one before all of them, one
    # at the same instant as day 5's and a refund dated day 2 (late: before orders kept); b's
    # next order arrives in time, with a refund dated after the order that arrives next.
    ingest(
        ("a3", a, "purchase", at(3), 15),
        ("b9", b, "purchase", at(9), 5),
        ("b12-refund", b, "purchase", at(12), -10),
    )
    ingest(
        ("a0", a, "purchase", at(0), 1),
        ("a5-bis", a, "purchase", at(5), 2),
        ("a2-refund", a, "purchase", at(2), -5),
        ("b10", b, "purchase", at(10), 7),
    )

    # (member, at, previous order, orders before, spend before: refunds included, strictly
    # earlier events only)
    expected: Rows = {
        f"{tag}-a0": (a, at(0), None, 0, Decimal("0.00")),
        f"{tag}-a1": (a, at(1), at(0), 1, Decimal("1.00")),
        f"{tag}-a3": (a, at(3), at(1), 2, Decimal("6.00")),  # 1 + 10 - 5
        f"{tag}-a5": (a, at(5), at(3), 3, Decimal("21.00")),
        f"{tag}-a5-bis": (a, at(5), at(3), 3, Decimal("21.00")),  # same instant, same state
        f"{tag}-b3": (b, at(3), None, 0, Decimal("0.00")),
        f"{tag}-b9": (b, at(9), at(3), 1, Decimal("30.00")),
        f"{tag}-b10": (b, at(10), at(9), 2, Decimal("35.00")),  # day 12's refund is later
    }
    assert _rows(url, [a, b]) == expected

    with get_engine(url).begin() as connection:
        purchase_previous.rebuild(connection)
    assert _rows(url, [a, b]) == expected
