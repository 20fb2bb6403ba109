"""The demo's HTML report: one self-contained page (inline CSS, no external assets)."""

from jinja2 import Environment, PackageLoader, select_autoescape

from loyalflow.simulation.demo import DemoRun


def render_report(run: DemoRun, elapsed_seconds: float) -> str:
    env = Environment(
        loader=PackageLoader("loyalflow.simulation", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    summary = run.summary
    most_sent = max((m.sent for m in summary.messages), default=0) or 1
    most_skipped = max((count for _, count in summary.skips), default=0) or 1
    return env.get_template("report.html").render(
        run=run,
        summary=summary,
        elapsed=elapsed_seconds,
        most_sent=most_sent,
        most_skipped=most_skipped,
    )
