"""The `loyalflow` command line (Typer + Rich).

Only Typer and Rich are imported at start: each command imports what it needs when it runs, and
the command groups in other modules load lazily (`cli/lazy.py`), so `--help` answers at once.
"""

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from loyalflow.cli.lazy import Lazy, lazy_group

if TYPE_CHECKING:
    from loyalflow.config import Settings

app = typer.Typer(
    help="loyalflow: member journeys for loyalty programs, on Temporal.",
    # A traceback's local variables would print settings, tokens and member data.
    pretty_exceptions_show_locals=False,
    cls=lazy_group(
        {
            "event": Lazy(
                "loyalflow.cli.members",
                "event",
                "Ingest one event, exactly like POST /events, and route it to journeys.",
            ),
            "preview": Lazy(
                "loyalflow.cli.preview",
                "preview",
                "Render a message's email and SMS, for a member or samples.",
            ),
            "import": Lazy(
                "loyalflow.cli.imports",
                "import_app",
                "Import members (CSV) and events (JSON Lines) in bulk.",
            ),
            "journeys": Lazy(
                "loyalflow.cli.journeys", "journeys_app", "Check, list and show journeys."
            ),
            "runs": Lazy(
                "loyalflow.cli.support",
                "runs_app",
                "Find journey runs, read their trail, exit them, re-send messages.",
            ),
            "simulate": Lazy(
                "loyalflow.cli.simulate",
                "simulate",
                "Run one journey for one member in skipped time.",
            ),
            "bounces": Lazy(
                "loyalflow.cli.engagement",
                "bounces",
                "Receive bounce and complaint mail (SMTP or LMTP) for VERP addresses.",
            ),
            "engagement": Lazy(
                "loyalflow.cli.engagement",
                "engagement",
                "Per journey and step: sent, human opens and clicks, machine ones, bounces.",
            ),
            "users": Lazy(
                "loyalflow.cli.users",
                "users_app",
                "Console users: add (password hashed with Argon2), list, disable.",
            ),
            "report": Lazy(
                "loyalflow.cli.report",
                "report_app",
                "Results: program KPIs, journey funnels, experiment verdicts, the daily rollup.",
            ),
            "demo": Lazy(
                "loyalflow.cli.simulate",
                "demo",
                "Simulate a synthetic program through every built-in journey.",
            ),
        }
    ),
)
member_app = typer.Typer(
    help="Create, update and read members.",
    cls=lazy_group(
        {
            "put": Lazy(
                "loyalflow.cli.members",
                "member_put",
                "Create or update a member, exactly like PUT /members/{id}.",
            ),
            "get": Lazy(
                "loyalflow.cli.members",
                "member_get",
                "Print a member's current state as JSON: profile, points, tier, purchases, consents.",
            ),
            "show": Lazy(
                "loyalflow.cli.support",
                "member_show",
                "A member's whole story: events, points, tier, consent, journeys.",
            ),
            "explain": Lazy(
                "loyalflow.cli.support",
                "member_explain",
                "In plain words: why the member is or is not in a journey.",
            ),
            "redeem": Lazy(
                "loyalflow.cli.points",
                "member_redeem",
                "Redeem a reward with the member's points (idempotent by redemption id).",
            ),
        }
    ),
)
app.add_typer(member_app, name="member")
console = Console()
err = Console(stderr=True)


def main() -> None:
    """The `loyalflow` console script: the Typer app, with a plain answer instead of a traceback
    when the database has no loyalflow schema yet (a command run before `migrate` or `up`)."""
    try:
        app()
    except Exception as exc:
        from loyalflow.cli.schema_hint import schema_hint

        hint = schema_hint(exc)
        if hint is None:
            raise
        err.print(f"[red]{hint}[/red]", soft_wrap=True)
        raise SystemExit(1) from None


def _logging() -> None:
    from loyalflow.config import get_settings
    from loyalflow.runtime.logs import configure_logging

    configure_logging(get_settings().log_format)


@app.command()
def up(
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes to run (one core each); default LOYALFLOW_UP_WORKERS or 1.",
        ),
    ] = None,
) -> None:
    """Start everything: embedded Temporal (unless LOYALFLOW_TEMPORAL_ADDRESS is set), migrations,
    the worker(s) and the API. Ctrl-C stops it all."""
    from loyalflow.config import get_settings
    from loyalflow.runtime.supervisor import Supervisor

    settings = get_settings()
    if workers is not None:
        settings = settings.model_copy(update={"up_workers": workers})
    _refuse_open_api(settings)
    raise typer.Exit(Supervisor(settings, console).run())


@app.command()
def worker() -> None:
    """Run a Temporal worker (as many as you like, on any host, against the same server)."""
    from loyalflow.runtime.worker import main

    main()


@app.command()
def api() -> None:
    """Run the HTTP API (FastAPI; OpenAPI at /docs)."""
    import uvicorn

    from loyalflow.api.app import create_app
    from loyalflow.config import get_settings
    from loyalflow.runtime.metrics import temporal_sdk_metrics

    settings = get_settings()
    _refuse_open_api(settings)
    # JSON: uvicorn's own loggers (its default config writes text) go through the root's handler.
    logging_options: dict[str, Any] = {}
    if settings.log_format == "json":
        _logging()
        logging_options["log_config"] = None
    app = create_app(settings)
    # The API's Temporal client (journey starts, signals) reports through the SDK's exporter,
    # which GET /metrics appends: set before the app's client connects.
    app.state.temporal_metrics_url = f"http://{temporal_sdk_metrics()}/metrics"
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, **logging_options)


def _refuse_open_api(settings: "Settings") -> None:
    refusal = settings.open_api_refusal()
    if refusal:
        err.print(f"[red]{refusal}[/red]", soft_wrap=True)
        raise typer.Exit(2)


@app.command()
def migrate() -> None:
    """Apply database migrations (Alembic) up to the latest schema."""
    from loyalflow.config import get_settings
    from loyalflow.models.db import upgrade_database

    settings = get_settings()
    upgrade_database(settings.effective_database_url)
    console.print("database schema is up to date")
