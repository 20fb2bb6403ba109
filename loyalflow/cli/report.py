"""`loyalflow report`: results on the live database (journeys' funnels, experiments' verdicts)."""

import typer

from loyalflow.cli.report_journeys import experiment, journey
from loyalflow.cli.report_rollup import rollup

report_app = typer.Typer(
    help="Results on the live database: journey funnels and experiment verdicts.",
    no_args_is_help=True,
)
report_app.command("journey")(journey)
report_app.command("experiment")(experiment)
report_app.command("rollup")(rollup)
