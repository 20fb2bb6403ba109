"""A small hand-made loyalty program for the KPI tests, loaded through the normal paths:
`store_events` (ingestion), `redeem` (a redemption) and `expire_page` (the expiry sweep).

The period is June 2026. Every event is at noon UTC, far from any bucket's boundary. Members:
  A  en  joined Jan 2026: buys 100 (Jan), 450 (Mar: Silver), 80 (Jun); redeems 500 points (Jun)
  B  fr  joined Nov 2025: buys 200 (Dec), 300 (Jun: Silver), refund -300 (Jun: back to Bronze),
         and 50 after the period
  C  en  joined Mar 2025: buys 40 (Mar 2025), visits Jun 2025, then nothing: churned
  D  fr  joined Feb 2026: visits Mar 2026 and again after the period; never buys
  E  en  joined in the period: buys 60 and 2500 (Gold); staff remove 20 points
  F  en  joins after the period and buys 30
Points expire 3 months after they are earned (per lot); the sweep runs once, on 20 June.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from loyalflow.catalog.event_types import event_types_from
from loyalflow.config import Settings
from loyalflow.members.ingest import store_events, upsert_member
from loyalflow.members.points_sweep import expire_page
from loyalflow.members.redemption import redeem
from loyalflow.models.api import EventIn, MemberIn
from loyalflow.rules.loyalty import LoyaltyRules, load_rules
from loyalflow.rules.rewards import rewards_from

START = datetime(2026, 6, 1, tzinfo=UTC)
END = datetime(2026, 7, 1, tzinfo=UTC)
SWEEP_AT = datetime(2026, 6, 20, 12, tzinfo=UTC)
LOCALES = {"A": "en", "B": "fr", "C": "en", "D": "fr", "E": "en", "F": "en"}


def noon(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Happening:
    member: str
    type: str  # an event type, or "redeem" (a reward of 500 points)
    at: datetime
    properties: dict[str, Any]


def _h(member: str, type: str, at: datetime, **properties: Any) -> Happening:
    return Happening(member, type, at, properties)


PROGRAM = [
    _h("C", "member.joined", noon(2025, 3, 1)),
    _h("C", "purchase", noon(2025, 3, 10), amount=40),
    _h("C", "visit", noon(2025, 6, 15)),
    _h("B", "member.joined", noon(2025, 11, 15)),
    _h("B", "purchase", noon(2025, 12, 1), amount=200),
    _h("A", "member.joined", noon(2026, 1, 10)),
    _h("A", "purchase", noon(2026, 1, 20), amount=100),
    _h("D", "member.joined", noon(2026, 2, 1)),
    _h("A", "purchase", noon(2026, 3, 5), amount=450),
    _h("D", "visit", noon(2026, 3, 15)),
    _h("B", "purchase", noon(2026, 6, 5), amount=300),
    _h("A", "purchase", noon(2026, 6, 10), amount=80),
    _h("A", "redeem", noon(2026, 6, 12)),
    _h("E", "member.joined", noon(2026, 6, 15)),
    _h("E", "purchase", noon(2026, 6, 16), amount=60),
    _h("E", "purchase", noon(2026, 6, 18), amount=2500),
    # the expiry sweep runs here (SWEEP_AT)
    _h("E", "points.adjusted", noon(2026, 6, 22), points=-20),
    _h("B", "purchase", noon(2026, 6, 25), amount=-300),
    _h("D", "visit", noon(2026, 7, 5)),
    _h("F", "member.joined", noon(2026, 7, 10)),
    _h("F", "purchase", noon(2026, 7, 11), amount=30),
    _h("B", "purchase", noon(2026, 7, 15), amount=50),
]
ACTIVITY = ("member.joined", "purchase", "visit")


def program_rules() -> LoyaltyRules:
    default = load_rules(Settings(_env_file=None).loyalty_rules_file)
    return default.model_copy(
        update={
            "tiers": default.tiers.model_copy(update={"downgrade": "immediate"}),
            "points_expiry": default.points_expiry.model_copy(
                update={"policy": "per_lot", "months": 3}
            ),
            "point_value": Decimal("0.01"),
        }
    )


def load_program(url: str) -> LoyaltyRules:
    rules = program_rules()
    settings = Settings(_env_file=None)
    event_types = event_types_from(settings.events_file)
    rewards = rewards_from(settings.rewards_file)
    for member, locale in LOCALES.items():
        upsert_member(url, member, MemberIn(locale=locale))
    swept = False
    for n, happening in enumerate(PROGRAM):
        if not swept and happening.at > SWEEP_AT:
            expire_page(url, SWEEP_AT, [], None, 100)
            swept = True
        if happening.type == "redeem":
            redeem(
                url,
                happening.member,
                f"r{n}",
                "voucher-10",  # 500 points
                rewards=rewards,
                rules=rules,
                at=happening.at,
            )
            continue
        event = EventIn(
            event_id=f"e{n}",
            member_id=happening.member,
            type=happening.type,
            occurred_at=happening.at,
            properties=happening.properties,
        )
        store_events(url, [event], rules, event_types)
    return rules
