"""The program KPI report: one read-only transaction, every figure aggregated in SQL by the
`kpi_*` modules, assembled into a `KpiReport`."""

from datetime import UTC, datetime

from sqlalchemy import Connection, text

from loyalflow.analytics.kpi_cohorts import cohort_table
from loyalflow.analytics.kpi_members import bucket_bounds, empty_member_kpis, member_kpis
from loyalflow.analytics.kpi_models import (
    GroupBy,
    KpiFigures,
    KpiGroup,
    KpiReport,
    Period,
    RedeemerComparison,
)
from loyalflow.analytics.kpi_period import default_period
from loyalflow.analytics.kpi_points import points_kpis, redeemer_behaviour
from loyalflow.analytics.kpi_purchases import aov_by_tier, empty_purchase_kpis, purchase_kpis
from loyalflow.analytics.kpi_rfm import rfm_kpis
from loyalflow.analytics.kpi_tiers import tier_kpis
from loyalflow.analytics.sql import NO_GROUP
from loyalflow.models.db import read_scope
from loyalflow.rules.loyalty import LoyaltyRules

REPORT_WORK_MEM = "256MB"


def kpi_report(
    url: str, rules: LoyaltyRules, period: Period | None = None, by: GroupBy | None = None
) -> KpiReport:
    period = period or default_period()
    with read_scope(url) as session:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            # The cohort table's and RFM's groupings hash millions of rows at 1M members; in the
            # default 4 MB they spill to disk. For this read-only transaction only.
            connection.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))
        overall = _figures(connection, period, rules, None)[NO_GROUP]
        groups = [
            KpiGroup(key=key, figures=figures)
            for key, figures in (_figures(connection, period, rules, by) if by else {}).items()
        ]
        redeeming, not_redeeming = redeemer_behaviour(connection, period, overall.members.total)
        return KpiReport(
            period=period,
            by=by,
            currency=rules.currency,
            generated_at=datetime.now(UTC),
            overall=overall,
            groups=groups,
            aov_by_tier=aov_by_tier(connection, period),
            redeemers=RedeemerComparison(redeeming=redeeming, not_redeeming=not_redeeming),
            tiers=tier_kpis(connection, period, [level.name for level in rules.tiers.levels]),
            cohorts=cohort_table(connection, period),
            rfm=rfm_kpis(connection, period),
        )


def _figures(
    connection: Connection, period: Period, rules: LoyaltyRules, by: GroupBy | None
) -> dict[str, KpiFigures]:
    """Per group (one, NO_GROUP, without `by`): members, purchases and points figures. A group
    may hold points but no member at the period end (members who joined since, with points the
    report takes back to the period end), hence the empty purchases."""
    buckets = rules.inactivity.buckets_days
    members = member_kpis(connection, period, buckets, by)
    totals = {key: figures.total for key, figures in members.items()}
    purchases = purchase_kpis(connection, period, totals, by)
    points = points_kpis(connection, period, rules.point_value, by, set(purchases))
    empty = empty_member_kpis(bucket_bounds(buckets))
    return {
        key: KpiFigures(
            members=members.get(key, empty),
            purchases=purchases.get(key) or empty_purchase_kpis(),
            points=points[key],
        )
        for key in sorted(points)
    }
