"""The shapes of the program KPI report: what `loyalflow report kpis`, `GET /reports/kpis` and the
HTML report read. Figures only; the SQL that fills them is in the `kpi_*` modules.

Rates are shares in [0, 1] (None when their denominator is 0: "no data", not 0 %). Money is
`Decimal` (JSON: a string, exactly as stored); points are integers.
"""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GroupBy = Literal["tier", "locale"]


class _Shape(BaseModel):
    model_config = ConfigDict(frozen=True)


class Period(_Shape):
    """Half-open: `start` <= t < `end` (aware UTC)."""

    start: datetime
    end: datetime


class InactivityBucket(_Shape):
    """Members whose last activity (join, purchase, visit) before the period end is `min_days`
    to `max_days` days old (`max_days` None: no upper bound; the last bucket is churn)."""

    min_days: int
    max_days: int | None
    members: int


class MemberKpis(_Shape):
    total: int  # members who had joined by the period end
    new: int  # joined in the period
    active: int  # activity in the `active_days` before the period end
    active_days: int
    active_rate: float | None  # active ÷ total
    purchasers: int  # one purchase or more before the period end
    repeat_purchasers: int  # two purchases or more before the period end
    repeat_purchase_rate: float | None  # repeat_purchasers ÷ purchasers
    churned: int  # no activity in the last inactivity bucket's days before the period end
    churn_rate: float | None  # churned ÷ total
    inactivity: list[InactivityBucket]


class PurchaseKpis(_Shape):
    orders: int  # purchases in the period (refunds are not orders)
    revenue: Decimal  # sum of purchase amounts in the period, refunds subtracted
    purchasers: int  # members with an order in the period
    average_order_value: Decimal | None  # revenue ÷ orders
    purchase_frequency: float | None  # orders ÷ purchasers
    revenue_per_member: Decimal | None  # revenue ÷ members (total at period end)
    revenue_12m: Decimal  # purchase amounts over the 365 days before the period end
    clv_12m: Decimal | None  # revenue_12m ÷ members (total at period end)


class BuyerBehaviour(_Shape):
    """Redeeming (a redemption in the period) or not: how those members bought in the period."""

    members: int
    purchasers: int
    orders: int
    revenue: Decimal
    average_order_value: Decimal | None  # revenue ÷ orders
    purchase_frequency: float | None  # orders ÷ purchasers


class RedeemerComparison(_Shape):
    redeeming: BuyerBehaviour
    not_redeeming: BuyerBehaviour


class PointsKpis(_Shape):
    issued: int  # earned, bonus, opening, positive adjustments; refunds' reversals subtracted
    redeemed: int  # spent on rewards; cancelled redemptions' returns subtracted
    expired: int
    removed: int  # negative adjustments by staff or imports
    outstanding: int  # members' balances at the period end
    point_value: Decimal  # `point_value` in loyalty.yaml, currency per point
    outstanding_value: Decimal  # outstanding * point_value
    redemption_rate: float | None  # redeemed ÷ issued
    breakage: float | None  # expired ÷ issued


class KpiFigures(_Shape):
    """The figures that make sense per group (tier or locale) as well as overall."""

    members: MemberKpis
    purchases: PurchaseKpis
    points: PointsKpis


class KpiGroup(_Shape):
    key: str  # the member's current tier or locale ("(none)" when unset)
    figures: KpiFigures


class TierAov(_Shape):
    tier: str
    orders: int
    revenue: Decimal
    average_order_value: Decimal | None


class TierCount(_Shape):
    tier: str
    members: int
    share: float | None


class TierMove(_Shape):
    from_tier: str
    to_tier: str
    members: int  # tier.upgraded / tier.downgraded events in the period


class TierKpis(_Shape):
    distribution: list[TierCount]  # members per current tier, ladder order first
    upgrades: int
    downgrades: int
    moves: list[TierMove]


class CohortRow(_Shape):
    cohort: str  # join month, YYYY-MM
    members: int
    # retention[k - 1]: share of the cohort active in the k-th calendar month after joining,
    # up to the month of the period end (a partial month if the period ends inside it).
    retention: list[float]


class CohortTable(_Shape):
    months: int  # cohorts: the join months up to and including the period end's month
    rows: list[CohortRow]


RecencyBucket = Literal["<3m", "3-6m", ">6m"]


class RfmKey(_Shape):
    recency: RecencyBucket  # since the last purchase
    frequency: int  # quintile 1..5 of the number of purchases (5: most)
    monetary: int  # quintile 1..5 of the amount spent (5: most)


class RfmCell(RfmKey):
    members: int


class RfmMove(_Shape):
    """Members per (cell at the period start, cell at the period end); `before` None: no
    purchase yet at the start."""

    before: RfmKey | None
    after: RfmKey
    members: int


class RfmKpis(_Shape):
    """Members with a purchase, as at the period start and end. Frequency and monetary are
    all-time figures up to that instant; quintiles by NTILE(5), ties split by member id."""

    start: list[RfmCell]
    end: list[RfmCell]
    moves: list[RfmMove]  # only pairs with members; unchanged cells included
    changed: int  # members whose cell at the end differs from the start (or who are new)


class KpiReport(_Shape):
    period: Period
    by: GroupBy | None = None
    currency: str
    generated_at: datetime
    overall: KpiFigures
    groups: list[KpiGroup] = Field(default_factory=list)  # empty unless `by`
    aov_by_tier: list[TierAov]
    redeemers: RedeemerComparison
    tiers: TierKpis
    cohorts: CohortTable
    rfm: RfmKpis
