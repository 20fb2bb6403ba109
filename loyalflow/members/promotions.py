"""Applies points promotions to a purchase: which are active and match, and the multiplier.

Conditions are parsed once per text (and checked when the API starts, `check_promotions`).
"""

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from loyalflow.models.conditions import Condition, parse_condition
from loyalflow.models.tables import Event, Member
from loyalflow.routing.member_facts import fact
from loyalflow.rules.loyalty import LoyaltyRules
from loyalflow.rules.promotions import Promotion


@dataclass(frozen=True)
class Earning:
    points: int
    promotion: str | None  # the promotion(s) that multiplied it, "a+b" when stacked


@lru_cache(maxsize=256)
def _condition(text: str) -> Condition:
    return parse_condition(text)


def check_promotions(rules: LoyaltyRules) -> list[str]:
    """Each promotion condition that does not parse, naming it (an empty list: all good)."""
    problems = []
    for n, offer in enumerate(rules.promotions.offers):
        if offer.condition is None:
            continue
        try:
            _condition(offer.condition)
        except ValueError as exc:
            problems.append(f"promotions.offers[{n}].condition ({offer.id}): {exc}")
    return problems


def earning(member: Member, event: Event, base: int, rules: LoyaltyRules) -> Earning:
    """The points a purchase earns: `base` times the promotions that apply, rounded down."""
    if base <= 0 or not rules.promotions.offers:
        return Earning(base, None)
    applying = [p for p in rules.promotions.offers if _applies(p, member, event)]
    if not applying:
        return Earning(base, None)
    if rules.promotions.overlapping == "best":
        applying = [max(applying, key=lambda p: p.multiplier)]
    multiplier = math.prod(Decimal(str(p.multiplier)) for p in applying)
    names = "+".join(p.id for p in applying)[:64]
    return Earning(math.floor(base * multiplier), names)


@dataclass(frozen=True)
class _Compiled:
    starts: datetime
    ends: datetime
    condition: Condition | None
    fields: frozenset[str]


@lru_cache(maxsize=256)
def _compiled(promotion: Promotion) -> _Compiled:
    """Per promotion, once: its instants and parsed condition (ingestion applies it per event)."""
    zone = ZoneInfo(promotion.timezone)
    condition = _condition(promotion.condition) if promotion.condition else None
    return _Compiled(
        starts=promotion.starts.replace(tzinfo=zone),
        ends=promotion.ends.replace(tzinfo=zone),
        condition=condition,
        fields=condition.member_fields() if condition else frozenset(),
    )


def _applies(promotion: Promotion, member: Member, event: Event) -> bool:
    compiled = _compiled(promotion)
    if not compiled.starts <= event.occurred_at < compiled.ends:
        return False
    if compiled.condition is None:
        return True
    facts = {field: fact(member, field) for field in compiled.fields}
    return compiled.condition.evaluate(facts, event.properties, event.occurred_at)
