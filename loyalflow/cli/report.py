"""`loyalflow report ...`: results on the live database. Each command lives in its own module,
imported when it runs."""

import typer

from loyalflow.cli.report_kpis import kpis

report_app = typer.Typer(help="Results on the live database: program KPIs.")
report_app.command("kpis")(kpis)
