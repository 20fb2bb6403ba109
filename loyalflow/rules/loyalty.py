"""Loyalty rules as configuration: points per currency unit and the tier ladder."""

import math
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from loyalflow.rules.files import ConfigFileError, load_yaml_model
from loyalflow.rules.points_expiry import PointsExpiry
from loyalflow.rules.promotions import Promotions


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierLevel(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    threshold: Annotated[float, Field(ge=0)]


class Requalification(_Strict):
    """Once a year the tier is re-earned: members short of their tier's threshold over the 12
    months before the date fall to the tier they did earn (`tier.downgraded`), warned
    `warn_days` before (`tier.will_downgrade`)."""

    # `anniversary` of joining, or `fixed_date`: `date` each year. (Not `on`: YAML reads it as true.)
    when: Literal["anniversary", "fixed_date"] = "anniversary"
    date: Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")] | None = None
    warn_days: Annotated[int, Field(gt=0, le=365)] | None = 30
    sweep_cron: str = "0 4 * * *"  # when the daily requalification sweep runs, UTC

    @model_validator(mode="after")
    def _date_with_fixed_date(self) -> "Requalification":
        if (self.when == "fixed_date") != (self.date is not None):
            raise ValueError("`date` (MM-DD) goes with when: fixed_date, and only with it")
        return self


class TierLadder(_Strict):
    # `points`: current balance; `points_earned_12m`: points earned (purchases, bonuses) over the
    # last 365 days; `spend_12m`: purchase amounts over the last 365 days.
    basis: Literal["points", "points_earned_12m", "spend_12m"] = "points"
    downgrade: Literal["never", "immediate"] = "never"
    levels: Annotated[tuple[TierLevel, ...], Field(min_length=1)]
    # `tier.near_next` when the basis reaches this share of the next tier's threshold (e.g.
    # 0.8), once per tier and 12 months; None: never.
    near_next_share: Annotated[float, Field(gt=0, lt=1)] | None = None
    requalification: Requalification | None = None

    @model_validator(mode="after")
    def _ascending_from_zero(self) -> "TierLadder":
        if self.levels[0].threshold != 0:
            raise ValueError("the first tier's threshold must be 0 (every member has a tier)")
        thresholds = [level.threshold for level in self.levels]
        if thresholds != sorted(set(thresholds)):
            raise ValueError("tier thresholds must be strictly ascending")
        names = [level.name for level in self.levels]
        if len(set(names)) != len(names):
            raise ValueError("tier names must be unique")
        if self.requalification is not None and self.basis == "points":
            raise ValueError(
                "requalification needs a 12-month basis: points_earned_12m or spend_12m"
            )
        return self

    def tier_for(self, value: float | Decimal) -> str:
        """The highest tier reached; below zero (a refund after points were spent) the lowest."""
        reached = [level.name for level in self.levels if level.threshold <= value]
        return reached[-1] if reached else self.levels[0].name

    def settle(self, current: str | None, value: float | Decimal) -> str:
        """The tier a member at `current` holds once their basis is `value`: up to the tier
        reached, and down to it only when downgrades are `immediate`."""
        current = current or self.levels[0].name
        reached = self.tier_for(value)
        if self.rank(reached) < self.rank(current) and self.downgrade == "never":
            return current
        return reached

    def next_level(self, tier: str | None) -> TierLevel | None:
        """The tier above `tier` (the lowest's next when unknown); None at the top."""
        rank = max(self.rank(tier), 0)
        return self.levels[rank + 1] if rank + 1 < len(self.levels) else None

    def rank(self, tier: str | None) -> int:
        names = [level.name for level in self.levels]
        return names.index(tier) if tier in names else -1


class Inactivity(_Strict):
    """Recency buckets: a member idle this many days gets a `member.inactive` event, once each."""

    buckets_days: Annotated[tuple[Annotated[int, Field(gt=0)], ...], Field(min_length=1)] = (
        90,
        180,
        365,
    )
    sweep_cron: str = "0 3 * * *"  # when the sweep runs, UTC

    @model_validator(mode="after")
    def _ascending(self) -> "Inactivity":
        if list(self.buckets_days) != sorted(set(self.buckets_days)):
            raise ValueError("inactivity buckets must be strictly ascending")
        return self


class Referrals(_Strict):
    """Points for both members when a referred member makes a first purchase."""

    referrer_points: Annotated[int, Field(ge=0)] = 500
    referred_points: Annotated[int, Field(ge=0)] = 200
    monthly_cap: Annotated[int, Field(gt=0)] = 10  # referrals per referrer and calendar month


class LoyaltyRules(_Strict):
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"
    points_per_unit: Annotated[float, Field(ge=0)] = 1
    # What one point is worth to the program, in `currency`: values the outstanding balance.
    point_value: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=6)] = Decimal("0.01")
    tiers: TierLadder
    inactivity: Inactivity = Inactivity()
    points_expiry: PointsExpiry = PointsExpiry()
    promotions: Promotions = Promotions()
    referrals: Referrals = Referrals()

    def points_for(self, amount: Decimal) -> int:
        """Rounded down for a purchase; a refund takes back what the same amount earned."""
        earned = math.floor(abs(amount) * Decimal(str(self.points_per_unit)))
        return earned if amount >= 0 else -earned

    def points_for_amount(self, amount: object) -> int:
        """`points_for` of an amount as a client sends it (a number or a string)."""
        return self.points_for(Decimal(str(amount)).quantize(Decimal("0.01")))


# Kept as a name of its own so callers can catch this file's errors specifically.
LoyaltyRulesError = ConfigFileError


def load_rules(path: Path) -> LoyaltyRules:
    return load_yaml_model(path, LoyaltyRules, "loyalty rules")


@lru_cache(maxsize=4)
def rules_from(path: Path) -> LoyaltyRules:
    """Loaded once per process; a changed file takes effect when the process restarts."""
    return load_rules(path)
