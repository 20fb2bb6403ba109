"""The program KPI report: every figure aggregated in SQL by the `kpi_*` modules, read from one
snapshot of the database (several sections at once: `report_reads`), assembled
into a `KpiReport`."""

from datetime import UTC, datetime

from sqlalchemy import Connection

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
from loyalflow.analytics.kpi_points import points_kpis, redeemer_behaviour, redeemer_rows
from loyalflow.analytics.kpi_purchases import aov_by_tier, empty_purchase_kpis, purchase_kpis
from loyalflow.analytics.kpi_rfm import rfm_kpis
from loyalflow.analytics.kpi_tiers import tier_kpis
from loyalflow.analytics.report_reads import DEFAULT_PARALLEL, report_reads
from loyalflow.analytics.sql import NO_GROUP
from loyalflow.rules.loyalty import LoyaltyRules


def kpi_report(
    url: str,
    rules: LoyaltyRules,
    period: Period | None = None,
    by: GroupBy | None = None,
    parallel: int = DEFAULT_PARALLEL,
) -> KpiReport:
    """`parallel`: sections read at once (one connection each; `report_reads`)."""
    at = period or default_period()
    levels = [level.name for level in rules.tiers.levels]
    with report_reads(url, parallel) as reads:
        # The longest first, so that the short ones fill the other connections meanwhile.
        rfm = reads.submit(lambda c: rfm_kpis(c, at))
        cohorts = reads.submit(lambda c: cohort_table(c, at))
        overall = reads.submit(lambda c: _figures(c, at, rules, None)[NO_GROUP])
        grouped = reads.submit(lambda c: _figures(c, at, rules, by) if by else {})
        redeemers = reads.submit(lambda c: redeemer_rows(c, at))
        aov = reads.submit(lambda c: aov_by_tier(c, at))
        tiers = reads.submit(lambda c: tier_kpis(c, at, levels))
        figures = overall.result()
        redeeming, not_redeeming = redeemer_behaviour(
            redeemers.result(), figures.members.total, figures.purchases
        )
        return KpiReport(
            period=at,
            by=by,
            currency=rules.currency,
            generated_at=datetime.now(UTC),
            overall=figures,
            groups=[KpiGroup(key=key, figures=f) for key, f in grouped.result().items()],
            aov_by_tier=aov.result(),
            redeemers=RedeemerComparison(redeeming=redeeming, not_redeeming=not_redeeming),
            tiers=tiers.result(),
            cohorts=cohorts.result(),
            rfm=rfm.result(),
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
