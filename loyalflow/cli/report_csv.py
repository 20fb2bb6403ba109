"""CSV for `loyalflow report journey|experiment --format csv`: one figure a row for journeys
(long format, easy to pivot), one variant a row for experiments."""

import csv
import io

from loyalflow.analytics.journey_models import Comparison, ExperimentReport, JourneyReport


def journey_csv(report: JourneyReport) -> str:
    """Long format, one figure a row: section, version, step, channel, measure, value."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "version", "step", "channel", "measure", "value"])
    for funnel in [report.total, *report.versions]:
        version = funnel.version or "all"
        for measure in ("entered", "in_progress", "completed", "converted", "conversion_rate",
                        "revenue"):  # fmt: skip
            writer.writerow(["journey", version, "", "", measure, getattr(funnel, measure)])
        for e in funnel.exits:
            writer.writerow(["exit", version, "", "", e.label, e.count])
        for s in funnel.steps:
            writer.writerow(["step", version, s.step_id, "", "reached", s.reached])
            writer.writerow(["step", version, s.step_id, "", "waiting_now", s.waiting_now])
        for send in funnel.sends:
            for measure in ("sent", "delivered", "bounced", "opened", "clicked", "open_rate",
                            "click_rate", "unsubscribed", "fell_back"):  # fmt: skip
                value = getattr(send, measure)
                writer.writerow(["send", version, send.step_id, send.channel, measure, value])
            for r in send.not_sent:
                row = ["not_sent", version, send.step_id, send.channel, r.label, r.count]
                writer.writerow(row)
    return out.getvalue()


def experiment_csv(report: ExperimentReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    metrics = ("successes", "rate", "rate_low", "rate_high", "lift", "lift_low", "lift_high",
               "relative_lift", "relative_lift_low", "relative_lift_high", "p_value",
               "p_value_holm", "significant")  # fmt: skip
    writer.writerow(["variant", "control", "entered", *(f"conversion_{m}" for m in metrics),
                     *(f"clicks_{m}" for m in metrics)])  # fmt: skip

    def cells(c: Comparison | None) -> list[object]:
        if c is None:
            return [""] * len(metrics)
        bounds = []
        for interval in (c.rate_interval, c.lift_interval, c.relative_lift_interval):
            bounds.append((interval.low, interval.high) if interval else ("", ""))
        return [c.successes, c.rate, *bounds[0], c.lift, *bounds[1], c.relative_lift,
                *bounds[2], c.p_value, c.p_value_holm, c.significant]  # fmt: skip

    for v in report.variants:
        writer.writerow([v.variant, v.control, v.entered, *cells(v.conversion), *cells(v.clicks)])
    return out.getvalue()
