"""Support commands: `member show` (timeline), `member explain`, and
`runs list|show|exit|retry-send|ambiguous`.

Each command imports what it uses when it runs (Temporal's client, the ORM, Rich's tables):
`runs ambiguous` only reads the database (cli/readers) and starts in well under a second."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from rich.table import Table
    from temporalio.client import Client

    from loyalflow.config import Settings
    from loyalflow.support.runs import RunSummary

runs_app = typer.Typer(help="Find journey runs, read their trail, exit them, re-send messages.")
console = Console()
err = Console(stderr=True)
T = TypeVar("T")
TEMPORAL_WAIT_SECONDS = 5

_STYLES = {
    "not_sent": "yellow",
    "journey_entered": "cyan",
    "journey_exited": "cyan",
    "support": "magenta",
    "goal": "green",
}


async def _client_or_none(settings: "Settings") -> "Client | None":
    from loyalflow.runtime.connection import connect

    try:
        return await connect(settings, wait_seconds=1)
    except Exception:
        return None


def _run(work: "Callable[[Client], Awaitable[T]]") -> T:
    """Connects to Temporal and runs `work`; a support error exits 1 with its message."""
    from loyalflow.config import get_settings
    from loyalflow.runtime.connection import connect
    from loyalflow.support.runs import SupportError

    async def go() -> T:
        settings = get_settings()
        try:
            client = await connect(settings, wait_seconds=TEMPORAL_WAIT_SECONDS)
        except Exception as exc:
            err.print(f"[red]Temporal is unreachable at {settings.effective_temporal_address}[/]")
            raise typer.Exit(2) from exc
        return await work(client)

    try:
        return asyncio.run(go())
    except SupportError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from exc


def member_show(
    member_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="the timeline as JSON")] = False,
) -> None:
    """A member's whole story: events, points, tier, consent, journeys and their steps, every
    message and every message not sent (with the reason), and who in support did what."""
    from zoneinfo import ZoneInfo

    from rich.table import Table

    from loyalflow.config import get_settings
    from loyalflow.members.profile import get_member
    from loyalflow.models.timeline import Timeline
    from loyalflow.rules.loyalty import rules_from
    from loyalflow.support.timeline import member_timeline

    settings = get_settings()

    async def go() -> "Timeline | None":
        return await member_timeline(settings, member_id, await _client_or_none(settings))

    timeline = asyncio.run(go())
    if timeline is None:
        err.print(f"[red]no member {member_id!r}[/red]")
        raise typer.Exit(1)
    if as_json:
        console.print_json(timeline.model_dump_json())
        return
    member = get_member(
        settings.effective_database_url, member_id, rules_from(settings.loyalty_rules_file).tiers
    )
    zone_name = member.timezone if member else "UTC"
    zone = ZoneInfo(zone_name)
    table = Table(
        title=f"{member_id}: {timeline.points} points, tier {timeline.tier or '-'} "
        f"(times in {zone_name})"
    )
    table.add_column("when", no_wrap=True)
    for column in ("what", "journey / step", "variant"):
        table.add_column(column, overflow="fold")
    for entry in timeline.entries:
        where = "/".join(x for x in (entry.journey_id, entry.step_id) if x)
        style = _STYLES.get(entry.kind, "red" if entry.status in ("failed", "bounced") else "")
        table.add_row(
            f"{entry.at.astimezone(zone):%Y-%m-%d %H:%M}",
            escape(entry.summary),
            escape(where),
            entry.variant or "",
            style=style,
        )
    console.print(table)
    for run in timeline.runs:
        state = f"exited: {run.exit_reason}" if run.exited_at else f"at step {run.current_step}"
        # soft_wrap: the terminal wraps the line; Rich never splits the id or the link.
        console.print(
            f"[cyan]{run.workflow_id}[/cyan] ({escape(state)}): {run.link}", soft_wrap=True
        )


def member_explain(
    member_id: str,
    journey: Annotated[str, typer.Option("--journey", "-j", help="journey id")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """In plain words: why the member is or is not in the journey, and what happens next."""
    from loyalflow.config import get_settings
    from loyalflow.models.timeline import Explanation
    from loyalflow.support.explain import explain

    settings = get_settings()

    async def go() -> Explanation:
        return await explain(settings, member_id, journey, await _client_or_none(settings))

    result = asyncio.run(go())
    if as_json:
        console.print_json(result.model_dump_json())
    else:
        console.print(escape(result.text))
        if result.link:
            console.print(result.link)
    if result.state in ("no_such_member", "no_such_journey"):
        raise typer.Exit(1)


@runs_app.command("list")
def runs_list(
    journey: Annotated[str | None, typer.Option("--journey", "-j")] = None,
    member: Annotated[str | None, typer.Option("--member", "-m")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="running, completed, failed, terminated, canceled or timed_out"),
    ] = None,
    step: Annotated[str | None, typer.Option(help="the step runs are at now")] = None,
    limit: Annotated[int, typer.Option(help="at most this many runs")] = 200,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Journey runs by journey, member, status and current step (Temporal visibility over the
    MemberId, JourneyId and Step search attributes)."""
    from loyalflow.support.runs import list_runs

    found = _run(
        lambda c: list_runs(
            c, journey=journey, member=member, status=status, step=step, limit=limit
        )
    )
    if as_json:
        console.print_json(data=[r.model_dump(mode="json") for r in found])
        return
    console.print(runs_table(found))


def runs_table(found: "list[RunSummary]") -> "Table":
    """Workflow ids are what support types next (`runs show ID`): never cut. The other columns
    fold onto more lines when the terminal is narrow (80 columns)."""
    from rich.table import Table

    table = Table(title=f"{len(found)} run(s)")
    longest = max((len(r.workflow_id) for r in found), default=11)
    table.add_column("workflow id", no_wrap=True, min_width=longest)
    for column in ("status", "journey", "member", "step", "variant", "started"):
        table.add_column(column, overflow="fold")
    for r in found:
        table.add_row(
            escape(r.workflow_id),
            r.status,
            r.journey_id or "",
            r.member_id or "",
            r.step or "",
            r.variant or "",
            f"{r.started_at:%Y-%m-%d %H:%M}" if r.started_at else "",
        )
    return table


@runs_app.command("show")
def runs_show(workflow_id: str) -> None:
    """A run's step trail as readable lines: from the workflow while it runs, from its history
    once closed, from the database after Temporal's retention."""
    from loyalflow.config import get_settings
    from loyalflow.support.runs import show_run

    view = _run(lambda c: show_run(c, get_settings(), workflow_id))
    console.print(f"{escape(view.workflow_id)}: {view.status} (trail from the {view.source})")
    for line in view.lines:
        detail = f": {line.detail}" if line.detail else ""
        console.print(f"  {line.at:%Y-%m-%d %H:%M:%S} UTC  {line.step} {line.outcome}{detail}")
    if view.exit_reason:
        console.print(f"exit reason: {escape(view.exit_reason)}")


@runs_app.command("exit")
def runs_exit(
    workflow_id: str,
    reason: Annotated[str, typer.Option(help="why, in plain words (recorded)")],
    by: Annotated[str, typer.Option(help="who asks (recorded)")],
) -> None:
    """End a running journey now, with a reason; audited with who did it."""
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError

    from loyalflow.config import get_settings
    from loyalflow.support.runs import SupportError, exit_run

    async def go(client: "Client") -> str:
        try:
            return await exit_run(client, get_settings(), workflow_id, reason, by)
        except (WorkflowUpdateFailedError, RPCError) as exc:
            cause = getattr(exc, "cause", None) or exc
            raise SupportError(f"could not exit {workflow_id}: {cause}") from exc

    console.print(f"{escape(workflow_id)}: {escape(_run(go))}")


@runs_app.command("retry-send")
def runs_retry_send(
    message_id: str,
    by: Annotated[str, typer.Option(help="who asks (recorded)")],
) -> None:
    """Re-send a failed message under a new message id (the failed row is kept and points to
    it); consent, suppression and quiet hours apply again. Audited with who did it."""
    from loyalflow.config import get_settings
    from loyalflow.support.resend import retry_send

    new_id, result = _run(lambda c: retry_send(c, get_settings(), message_id, by))
    reason = f": {result.reason}" if result.reason else ""
    console.print(f"message {message_id} re-sent as {new_id}: {result.status}{escape(reason)}")
    if result.status != "sent":
        raise typer.Exit(1)


@runs_app.command("ambiguous")
def runs_ambiguous(
    limit: Annotated[int, typer.Option(help="at most this many messages")] = 200,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Messages whose attempt was interrupted while the provider may have had them (a worker
    killed mid-send): written off (LOYALFLOW_INTERRUPTED_SEND=write_off) or sent again (resend).
    Check with the member, or `runs retry-send` a written-off one deliberately."""
    from rich.table import Table

    from loyalflow.cli.readers.support import read_ambiguous_sends
    from loyalflow.config import get_settings

    found = read_ambiguous_sends(get_settings().effective_database_url, limit)
    if as_json:
        console.print_json(data=[m.model_dump(mode="json") for m in found])
        return
    table = Table(title=f"{len(found)} interrupted send(s)")
    table.add_column("message id", overflow="fold", min_width=36)
    table.add_column("member", overflow="fold")
    table.add_column("journey / step", overflow="fold")
    table.add_column("channel")
    table.add_column("status")
    table.add_column("handed over (UTC)")
    for m in found:
        table.add_row(
            m.message_id,
            escape(m.member_id),
            escape(f"{m.journey_id}/{m.step_id}"),
            m.channel,
            m.status,
            f"{m.handed_at:%Y-%m-%d %H:%M:%S}",
        )
    console.print(table)
