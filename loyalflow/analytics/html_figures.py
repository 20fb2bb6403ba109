"""What the HTML report draws, from the report shapes: the chart data (JSON for the page's script)
and the cells of the heat tables (the cohort retention and RFM grids), shaded at render time so
they read without JavaScript too."""

from collections import defaultdict
from typing import Any

from loyalflow.analytics.journey_models import ExperimentReport, Funnel, JourneyReport
from loyalflow.analytics.kpi_models import CohortTable, RfmCell, TierKpis
from loyalflow.analytics.timeseries import DailySeries

RECENCIES = ("<3m", "3-6m", ">6m")
QUINTILES = (1, 2, 3, 4, 5)


def heat(share: float | None) -> str:
    """A cell's background for a share in [0, 1]: the darker, the more; text stays readable."""
    if share is None:
        return ""
    alpha = max(0.0, min(1.0, share))
    return f"background-color: rgba(37, 99, 235, {alpha * 0.85:.2f});" + (
        " color: #fff;" if alpha > 0.5 else ""
    )


def series_chart(series: DailySeries) -> dict[str, Any]:
    return {
        "labels": [d.day.isoformat() for d in series.days],
        "sends": [d.sends for d in series.days],
        "opens": [d.opens for d in series.days],
        "clicks": [d.clicks for d in series.days],
        "conversions": [d.conversions for d in series.days],
        # A number for the chart's axis (the exact amounts are in the table). Revenue is the
        # program's, not a journey's: a journey's series has none.
        "revenue": None if series.journey_id else [float(d.revenue) for d in series.days],
        "rolled_up": [d.rolled_up for d in series.days],
    }


def tier_chart(tiers: TierKpis) -> dict[str, Any]:
    return {
        "labels": [t.tier for t in tiers.distribution],
        "members": [t.members for t in tiers.distribution],
    }


def funnel_stages(funnel: Funnel) -> list[tuple[str, int]]:
    """Entered, each step as reached, converted (when the journey has a goal)."""
    stages = [("entered", funnel.entered)]
    stages += [(f"{s.step_id} ({s.kind})", s.reached) for s in funnel.steps]
    if funnel.converted is not None:
        stages.append(("converted", funnel.converted))
    return stages


def funnel_chart(report: JourneyReport) -> dict[str, Any]:
    stages = funnel_stages(report.total)
    return {
        "journey": report.journey_id,
        "labels": [label for label, _ in stages],
        "counts": [count for _, count in stages],
    }


def experiment_chart(report: ExperimentReport) -> dict[str, Any]:
    """Per variant: the rate and its 95% interval (a floating bar), conversion and clicks."""

    def arm(metric: str) -> dict[str, Any]:
        rates, intervals, lifts, lift_intervals = [], [], [], []
        for variant in report.variants:
            comparison = getattr(variant, metric)
            rate = comparison.rate if comparison is not None else None
            interval = comparison.rate_interval if comparison is not None else None
            rates.append(rate)
            intervals.append([interval.low, interval.high] if interval is not None else None)
            # Against the control, in proportion points: an interval clear of 0 is a difference.
            lift = comparison.lift if comparison is not None else None
            around = comparison.lift_interval if comparison is not None else None
            lifts.append(lift)
            lift_intervals.append([around.low, around.high] if around is not None else None)
        return {
            "rates": rates,
            "intervals": intervals,
            "lifts": lifts,
            "lift_intervals": lift_intervals,
        }

    return {
        "labels": [v.variant + (" (control)" if v.control else "") for v in report.variants],
        "conversion": arm("conversion"),
        "clicks": arm("clicks"),
    }


def cohort_rows(cohorts: CohortTable) -> list[dict[str, Any]]:
    return [
        {
            "cohort": row.cohort,
            "members": row.members,
            "cells": [{"share": share, "style": heat(share)} for share in row.retention],
        }
        for row in cohorts.rows
    ]


def rfm_grid(cells: list[RfmCell], axis: str) -> dict[str, Any]:
    """Members per recency bucket (rows) and frequency or monetary quintile (columns)."""
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for cell in cells:
        counts[(cell.recency, getattr(cell, axis))] += cell.members
    top = max(counts.values(), default=0)
    return {
        "axis": axis,
        "rows": [
            {
                "recency": recency,
                "cells": [
                    {
                        "members": counts[(recency, q)],
                        "style": heat(counts[(recency, q)] / top if top else None),
                    }
                    for q in QUINTILES
                ],
            }
            for recency in RECENCIES
        ],
    }
