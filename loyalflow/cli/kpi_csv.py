"""The KPI report as CSV: one figure per line (section, group, name, value), for spreadsheets."""

import csv
import io
from collections.abc import Iterator

from loyalflow.analytics.kpi_models import KpiFigures, KpiReport, RfmKey

Row = tuple[str, str, str, object]


def _figures(group: str, figures: KpiFigures) -> Iterator[Row]:
    for section in ("members", "purchases", "points"):
        values = getattr(figures, section).model_dump()
        for name, value in values.items():
            if name == "inactivity":
                for bucket in figures.members.inactivity:
                    high = "" if bucket.max_days is None else bucket.max_days
                    yield section, group, f"idle_{bucket.min_days}_{high}_days", bucket.members
            else:
                yield section, group, name, "" if value is None else value


def _cell(key: RfmKey | None) -> str:
    return "none" if key is None else f"R{key.recency} F{key.frequency} M{key.monetary}"


def _rows(report: KpiReport) -> Iterator[Row]:
    yield "period", "", "start", report.period.start.isoformat()
    yield "period", "", "end", report.period.end.isoformat()
    yield from _figures("all", report.overall)
    for group in report.groups:
        yield from _figures(group.key, group.figures)
    for tier in report.aov_by_tier:
        yield "aov_by_tier", tier.tier, "orders", tier.orders
        yield "aov_by_tier", tier.tier, "revenue", tier.revenue
        yield "aov_by_tier", tier.tier, "average_order_value", tier.average_order_value or ""
    for side in ("redeeming", "not_redeeming"):
        for name, value in getattr(report.redeemers, side).model_dump().items():
            yield "redeemers", side, name, "" if value is None else value
    for count in report.tiers.distribution:
        yield "tiers", count.tier, "members", count.members
    yield "tiers", "", "upgrades", report.tiers.upgrades
    yield "tiers", "", "downgrades", report.tiers.downgrades
    for move in report.tiers.moves:
        yield "tier_moves", f"{move.from_tier} -> {move.to_tier}", "members", move.members
    for row in report.cohorts.rows:
        yield "cohorts", row.cohort, "members", row.members
        for month, share in enumerate(row.retention, start=1):
            yield "cohorts", row.cohort, f"month_{month}", share
    for when, cells in (("rfm_start", report.rfm.start), ("rfm_end", report.rfm.end)):
        for cell in cells:
            yield when, _cell(cell), "members", cell.members
    for cell_move in report.rfm.moves:
        pair = f"{_cell(cell_move.before)} -> {_cell(cell_move.after)}"
        yield "rfm_moves", pair, "members", cell_move.members
    yield "rfm_moves", "", "changed", report.rfm.changed


def report_csv(report: KpiReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("section", "group", "name", "value"))
    writer.writerows(_rows(report))
    return buffer.getvalue()
