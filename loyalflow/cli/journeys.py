"""`loyalflow journeys validate | list | show`: what marketers run while writing journeys."""

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from loyalflow.catalog.checks import CheckContext
from loyalflow.catalog.event_types import EventTypesError, event_types_from
from loyalflow.catalog.loader import Catalog, JourneyLoadError, load_journey
from loyalflow.catalog.registry import get_catalog
from loyalflow.catalog.text import describe_step
from loyalflow.config import get_settings
from loyalflow.models.durations import format_duration
from loyalflow.models.journey import BranchStep, Journey, SplitStep
from loyalflow.rules.messaging import policy_from

journeys_app = typer.Typer(help="Check, list and show journeys.", no_args_is_help=True)
console = Console()


def _context() -> CheckContext:
    settings = get_settings()
    try:
        event_types = event_types_from(settings.events_file)
    except EventTypesError as exc:
        _print_problems(exc.problems)
        raise typer.Exit(1) from exc
    return CheckContext(
        templates_dir=settings.templates_dir,
        policy=policy_from(settings.messaging_policy_file),
        locales=tuple(settings.template_locales),
        event_types=event_types,
    )


def _print_problems(problems: list[str]) -> None:
    """One line each, as written: no markup (`steps[2]` is text), no wrapping (editors and CI
    annotations read `file:line:column: message` lines)."""
    for problem in problems:
        console.print(problem, style="red", markup=False, highlight=False, soft_wrap=True)


def _load_all() -> Catalog:
    try:
        return get_catalog(get_settings())
    except (JourneyLoadError, EventTypesError) as exc:
        _print_problems(exc.problems)
        raise typer.Exit(1) from exc


@journeys_app.command()
def validate(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Journey files (default: every journey in LOYALFLOW_JOURNEYS_DIR)."),
    ] = None,
) -> None:
    """Report every problem as file:line:column; exit 1 if there is any."""
    paths = files or sorted(get_settings().journeys_dir.glob("*.yaml"))
    if not paths:
        console.print("no journey files found")
        raise typer.Exit(1)
    context = _context()
    problems: list[str] = []
    for path in paths:
        try:
            load_journey(path, context)
        except JourneyLoadError as exc:
            problems += exc.problems
    _print_problems(problems)
    if problems:
        console.print(f"{len(problems)} problem(s) in {len(paths)} file(s)")
        raise typer.Exit(1)
    console.print(f"[green]{len(paths)} journey file(s) OK[/green]")


def _trigger(journey: Journey) -> str:
    trigger = journey.trigger
    if trigger.segment is not None:
        return f"segment {trigger.segment} (cron {trigger.cron})"
    return f"{trigger.event}" + (f" if {trigger.condition}" if trigger.condition else "")


@journeys_app.command("list")
def list_journeys(
    as_json: Annotated[bool, typer.Option("--json", help="the journeys as JSON")] = False,
) -> None:
    """The journeys this installation runs."""
    if as_json:
        console.print_json(
            data=[
                {
                    "id": j.id,
                    "name": j.name,
                    "trigger": _trigger(j),
                    "re_entry": j.re_entry.policy,
                    "topic": j.topic,
                    "steps": len(j.steps),
                    "version": j.version,
                }
                for j in _load_all().journeys.values()
            ]
        )
        return
    table = Table(box=box.SIMPLE_HEAD)
    # Ids (typed next: `journeys show ID`) and versions are never cut. Long words in the
    # other columns fold onto the next line rather than end in an ellipsis.
    for header in ("id", "name", "trigger", "re-entry", "topic", "steps", "version"):
        table.add_column(header, no_wrap=header in ("id", "version"), overflow="fold")
    for journey in _load_all().journeys.values():
        re_entry = journey.re_entry.policy + (
            f", cool-down {format_duration(journey.re_entry.cooldown)}"
            if journey.re_entry.cooldown
            else ""
        )
        table.add_row(
            journey.id,
            journey.name,
            _trigger(journey),
            re_entry,
            journey.topic,
            str(len(journey.steps)),
            journey.version,
        )
    console.print(table)


def tree(journey: Journey) -> Tree:
    # Names, conditions and descriptions are the marketer's text: escaped, never Rich markup.
    root = Tree(
        f"[bold]{escape(journey.name)}[/bold] ({journey.id}) on {escape(_trigger(journey))}"
    )
    for step in journey.steps:
        node = root.add(f"[cyan]{step.id}[/cyan]: {escape(describe_step(step))}")
        for label, target in journey.exits(step):
            if label or target != journey.after(step.id):
                node.add(escape(f"{label or 'then'} -> {target or 'end'}"))
    for rule in journey.exit_when:
        condition = f" if {rule.condition}" if rule.condition else ""
        root.add(f"[yellow]exits on {escape(rule.event + condition)}[/yellow]")
    return root


def mermaid(journey: Journey) -> str:
    lines = ["flowchart TD", f'  start(["{_trigger(journey)}"]) --> {journey.steps[0].id}']
    for step in journey.steps:
        text = describe_step(step).replace('"', "'")
        shape = f'{{"{text}"}}' if isinstance(step, BranchStep | SplitStep) else f'["{text}"]'
        lines.append(f"  {step.id}{shape}")
        for label, target in journey.exits(step):
            edge = f' -- "{label.replace(chr(34), chr(39))}" -->' if label else " -->"
            lines.append(f"  {step.id}{edge} {target or 'finish'}")
    lines.append('  finish(["end"])')
    return "\n".join(lines)


@journeys_app.command()
def show(
    journey_id: str,
    as_mermaid: Annotated[
        bool, typer.Option("--mermaid", help="Print a Mermaid flowchart instead of a tree.")
    ] = False,
) -> None:
    """The journey's steps as a readable tree (or a diagram)."""
    journey = _load_all().journeys.get(journey_id)
    if journey is None:
        console.print(f"no journey {journey_id!r}; `loyalflow journeys list` shows them")
        raise typer.Exit(1)
    if as_mermaid:
        print(mermaid(journey))
    else:
        console.print(tree(journey))


def _change_pause(journey_id: str, paused: bool) -> None:
    from loyalflow.console.journey_pauses import UnknownJourney, change_pause

    _load_all()  # a broken catalogue says so, file and line, rather than "no journey"
    try:
        changed = change_pause(get_settings(), journey_id, paused, "cli")
    except UnknownJourney:
        console.print(
            f"no journey {journey_id!r}; `loyalflow journeys list` shows them",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(1) from None
    state = "paused" if paused else "resumed"
    message = f"{journey_id} {state}" if changed else f"{journey_id} was already {state}"
    console.print(message, markup=False, highlight=False)


@journeys_app.command()
def pause(journey_id: str) -> None:
    """Stop new triggers from starting runs of the journey (runs in flight go on); audited."""
    _change_pause(journey_id, True)


@journeys_app.command()
def resume(journey_id: str) -> None:
    """Let triggers start runs of the journey again (those that came while paused are not
    replayed); audited."""
    _change_pause(journey_id, False)
