"""The KPI report as Rich tables, readable in an 80-column terminal: one table per section,
figures per group side by side when the report is grouped."""

from collections.abc import Callable
from decimal import Decimal

from rich.console import Console
from rich.table import Table

from loyalflow.analytics.kpi_models import KpiFigures, KpiReport

RECENCIES = ("<3m", "3-6m", ">6m")


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


Figure = tuple[str, Callable[[KpiFigures], str]]

MEMBERS: list[Figure] = [
    ("members", lambda f: f"{f.members.total:,}"),
    ("new in the period", lambda f: f"{f.members.new:,}"),
    ("active (last activity < 90 d)", lambda f: f"{f.members.active:,}"),
    ("active rate", lambda f: _rate(f.members.active_rate)),
    ("repeat purchase rate", lambda f: _rate(f.members.repeat_purchase_rate)),
    ("churned", lambda f: f"{f.members.churned:,}"),
    ("churn rate", lambda f: _rate(f.members.churn_rate)),
]
PURCHASES: list[Figure] = [
    ("orders", lambda f: f"{f.purchases.orders:,}"),
    ("revenue", lambda f: _money(f.purchases.revenue)),
    ("average order value", lambda f: _money(f.purchases.average_order_value)),
    ("purchase frequency", lambda f: _number(f.purchases.purchase_frequency)),
    ("revenue per member", lambda f: _money(f.purchases.revenue_per_member)),
    ("CLV, last 12 months", lambda f: _money(f.purchases.clv_12m)),
]
POINTS: list[Figure] = [
    ("issued", lambda f: f"{f.points.issued:,}"),
    ("redeemed", lambda f: f"{f.points.redeemed:,}"),
    ("expired", lambda f: f"{f.points.expired:,}"),
    ("outstanding at the end", lambda f: f"{f.points.outstanding:,}"),
    ("outstanding value", lambda f: _money(f.points.outstanding_value)),
    ("redemption rate", lambda f: _rate(f.points.redemption_rate)),
    ("breakage", lambda f: _rate(f.points.breakage)),
]


LABEL_WIDTH = 34  # the figure names, with the table's borders
VALUE_WIDTH = 15  # a figure such as 1,234,567.89, with its padding and border


def _section(console: Console, title: str, figures: list[Figure], report: KpiReport) -> None:
    """As many groups side by side as the terminal holds; the next ones in another table
    (Rich would otherwise cut numbers short)."""
    columns = [("all", report.overall)] + [(g.key, g.figures) for g in report.groups]
    per_table = max(1, (console.width - LABEL_WIDTH) // VALUE_WIDTH)
    for first in range(0, len(columns), per_table):
        shown = columns[first : first + per_table]
        table = Table(title=title if first == 0 else None, title_justify="left")
        table.add_column("", no_wrap=True)
        for name, _ in shown:
            table.add_column(name, justify="right", no_wrap=True)
        for label, value in figures:
            table.add_row(label, *(value(f) for _, f in shown))
        console.print(table)


def print_report(console: Console, report: KpiReport) -> None:
    period = report.period
    console.print(
        f"[bold]Program KPIs[/bold] {period.start:%Y-%m-%d %H:%M} to {period.end:%Y-%m-%d %H:%M}"
        f" UTC, amounts in {report.currency}"
    )
    inactivity = report.overall.members.inactivity
    _section(console, "Members at the period end", MEMBERS, report)
    idle = Table(title="Days since the last activity", title_justify="left")
    for bucket in inactivity:
        idle.add_column(
            f"{bucket.min_days}+"
            if bucket.max_days is None
            else f"{bucket.min_days}-{bucket.max_days}",
            justify="right",
        )
    idle.add_row(*(f"{b.members:,}" for b in inactivity))
    console.print(idle)
    _section(console, "Purchases in the period", PURCHASES, report)
    _section(console, "Points", POINTS, report)
    _print_buyers(console, report)
    _print_tiers(console, report)
    _print_cohorts(console, report)
    _print_rfm(console, report)


def _print_buyers(console: Console, report: KpiReport) -> None:
    table = Table(title="Redeeming members vs the others", title_justify="left")
    table.add_column("")
    for column in ("members", "buyers", "orders", "AOV", "frequency"):
        table.add_column(column, justify="right")
    for label, side in (
        ("redeeming", report.redeemers.redeeming),
        ("not redeeming", report.redeemers.not_redeeming),
    ):
        table.add_row(
            label,
            f"{side.members:,}",
            f"{side.purchasers:,}",
            f"{side.orders:,}",
            _money(side.average_order_value),
            _number(side.purchase_frequency),
        )
    console.print(table)


def _print_tiers(console: Console, report: KpiReport) -> None:
    aov = {t.tier: t for t in report.aov_by_tier}
    table = Table(title="Tiers now (AOV of the period's orders)", title_justify="left")
    table.add_column("tier")
    for column in ("members", "share", "orders", "AOV"):
        table.add_column(column, justify="right")
    for count in report.tiers.distribution:
        orders = aov.get(count.tier)
        table.add_row(
            count.tier,
            f"{count.members:,}",
            _rate(count.share),
            f"{orders.orders:,}" if orders else "0",
            _money(orders.average_order_value) if orders else "-",
        )
    console.print(table)
    moves = ", ".join(f"{m.from_tier}→{m.to_tier} {m.members:,}" for m in report.tiers.moves)
    console.print(
        f"In the period: {report.tiers.upgrades:,} upgrades, {report.tiers.downgrades:,} "
        f"downgrades{': ' + moves if moves else ''}",
        soft_wrap=False,
    )


def _print_cohorts(console: Console, report: KpiReport) -> None:
    rows = report.cohorts.rows
    months = max((len(r.retention) for r in rows), default=0)
    table = Table(
        title="Retention: share of each join month active in later months", title_justify="left"
    )
    table.add_column("joined")
    table.add_column("members", justify="right")
    for month in range(1, months + 1):
        table.add_column(f"+{month}", justify="right")
    for row in rows:
        table.add_row(row.cohort, f"{row.members:,}", *(f"{s:.0%}" for s in row.retention))
    console.print(table)


def _print_rfm(console: Console, report: KpiReport) -> None:
    cells: dict[tuple[str, int, int], int] = {
        (c.recency, c.frequency, c.monetary): c.members for c in report.rfm.end
    }
    table = Table(
        title="RFM at the period end (members)",
        caption="F, M: frequency and monetary quintiles (5: most)",
        title_justify="left",
    )
    table.add_column("recency")
    table.add_column("F", justify="right")
    for monetary in range(1, 6):
        table.add_column(f"M{monetary}", justify="right")
    for recency in RECENCIES:
        for frequency in range(5, 0, -1):
            table.add_row(
                recency,
                str(frequency),
                *(f"{cells.get((recency, frequency, m), 0):,}" for m in range(1, 6)),
            )
    console.print(table)
    start = sum(c.members for c in report.rfm.start)
    console.print(
        f"{report.rfm.changed:,} members changed cell since the period start "
        f"({start:,} had purchased by then)"
    )
