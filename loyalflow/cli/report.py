"""`loyalflow report ...`: results on the live database (program KPIs, journeys' funnels,
experiments' verdicts, the daily rollup)."""

import typer

from loyalflow.cli.report_journeys import experiment, journey
from loyalflow.cli.report_kpis import kpis
from loyalflow.cli.report_rollup import rollup

report_app = typer.Typer(
    help="Results on the live database: program KPIs, journey funnels, experiment verdicts.",
    no_args_is_help=True,
)
report_app.command("kpis")(kpis)
report_app.command("journey")(journey)
report_app.command("experiment")(experiment)
report_app.command("rollup")(rollup)
