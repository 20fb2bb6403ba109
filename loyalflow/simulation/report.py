"""The demo's HTML report: one self-contained page (inline CSS, no external assets), drawn from
the same journey and experiment reports as `loyalflow report`."""

from jinja2 import Environment, PackageLoader, select_autoescape

from loyalflow.simulation.demo import DemoRun


def _percent(value: float | None) -> str:
    return "\u2013" if value is None else f"{value * 100:.1f}%"


def _points(value: float | None) -> str:
    return "\u2013" if value is None else f"{value * 100:+.1f}"


def render_report(run: DemoRun, elapsed_seconds: float) -> str:
    env = Environment(
        loader=PackageLoader("loyalflow.simulation", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["percent"] = _percent
    env.filters["points"] = _points
    summary = run.summary
    sends = [(j.journey_id, s) for j in summary.journeys for s in j.total.sends]
    most_sent = max((s.sent for _, s in sends), default=0) or 1
    not_sent = summary.not_sent
    most_skipped = max((count for _, count in not_sent), default=0) or 1
    return env.get_template("report.html").render(
        run=run,
        summary=summary,
        sends=sends,
        not_sent=not_sent,
        elapsed=elapsed_seconds,
        most_sent=most_sent,
        most_skipped=most_skipped,
    )
