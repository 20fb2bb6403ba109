"""RFM's state at the period start when members bought or were refunded since: refunds between
the start and the member's first order since, a refund since with no order since, a first order
ever since the start, two orders at one instant. Five buyers at the start, so each quintile is
one member and the cells show the exact order of their spend and orders, worked out here from
the definition (spend: every purchase amount before the instant, refunds included; orders:
non-negative purchases before it)."""

from datetime import UTC, datetime

from loyalflow.analytics.kpi_models import Period, RfmKey
from loyalflow.analytics.kpi_rfm import rfm_kpis
from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.config import Settings
from loyalflow.members.ingest import store_events
from loyalflow.models.api import EventIn
from loyalflow.models.db import read_scope
from loyalflow.rules.loyalty import load_rules

START = datetime(2026, 6, 1, tzinfo=UTC)
END = datetime(2026, 7, 1, tzinfo=UTC)


def _day(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=UTC)


PURCHASES = [  # (member, at, amount)
    ("P", _day(1, 10), 100),
    ("P", _day(6, 3), -80),  # refunded between the start and P's first order since
    ("P", _day(6, 10), 10),
    ("Q", _day(1, 12), 50),
    ("Q", _day(6, 5), -40),  # refunded since, and no order since
    ("R", _day(2, 1), 70),
    ("S", _day(2, 2), 30),
    ("S", _day(6, 2), 5),  # two orders at one instant, since the start
    ("S", _day(6, 2), 6),
    ("U", _day(6, 20), 40),  # first order ever, since the start: no buyer at the start
    ("V", _day(3, 1), 20),
    ("V", _day(3, 2), 20),
]


def _expected_start() -> dict[RfmKey, int]:
    before = [p for p in PURCHASES if p[1] < START]
    buyers = sorted({m for m, _, amount in before if amount >= 0})
    spent = {m: sum(a for who, _, a in before if who == m) for m in buyers}
    orders = {m: sum(1 for who, _, a in before if who == m and a >= 0) for m in buyers}
    assert len(buyers) == 5  # one member per quintile
    by_spend = sorted(buyers, key=lambda m: (spent[m], m))
    by_orders = sorted(buyers, key=lambda m: (orders[m], m))
    return {
        RfmKey(
            recency="<3m" if m == "V" else "3-6m",  # V's last order in March, the others' earlier
            frequency=by_orders.index(m) + 1,
            monetary=by_spend.index(m) + 1,
        ): 1
        for m in buyers
    }


def test_state_at_the_start_takes_back_what_happened_since(own_database_url: str) -> None:
    url = own_database_url
    settings = Settings(_env_file=None)
    rules = load_rules(settings.loyalty_rules_file)
    joins = [
        EventIn(event_id=f"j{m}", member_id=m, type="member.joined", occurred_at=_day(1, 1))
        for m in sorted({p[0] for p in PURCHASES})
    ]
    store_events(url, joins, rules, BUILT_IN_ONLY)
    for n, (member, at, amount) in enumerate(PURCHASES):
        event = EventIn(
            event_id=f"p{n}",
            member_id=member,
            type="purchase",
            occurred_at=at,
            properties={"amount": amount},
        )
        store_events(url, [event], rules, BUILT_IN_ONLY)
    with read_scope(url) as session:
        rfm = rfm_kpis(session.connection(), Period(start=START, end=END))
    start = {
        RfmKey(recency=c.recency, frequency=c.frequency, monetary=c.monetary): c.members
        for c in rfm.start
    }
    assert start == _expected_start()
    assert sum(c.members for c in rfm.end) == 6  # U bought since: a buyer at the end
