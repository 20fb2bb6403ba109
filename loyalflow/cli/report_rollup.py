"""`loyalflow report rollup`: roll up days by hand (a backfill after an import, or after the
definitions changed), with a progress bar; the daily schedule does the same every night."""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

err = Console(stderr=True)
MAX_DAYS = 3660


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


def rollup(
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="first day, YYYY-MM-DD (default: the day after the last one rolled up, or the "
            "first day with activity)",
        ),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="last day, inclusive (default: yesterday, UTC)")
    ] = None,
) -> None:
    """Roll up days (UTC) into the daily rollup the time series and the HTML report read:
    sends, opens, clicks, conversions, revenue, members, points. Rolling a day up again
    replaces it."""
    from loyalflow.analytics.rollup import first_activity_day, last_rolled_day, rollup_day
    from loyalflow.config import get_settings

    url = get_settings().effective_database_url
    today = datetime.now(UTC).date()
    last = _day(end, "--to") or today - timedelta(days=1)
    first = _day(start, "--from")
    if first is None:
        rolled = last_rolled_day(url, before=today)
        first = rolled + timedelta(days=1) if rolled else first_activity_day(url) or last
    if last > today:
        raise typer.BadParameter(f"{last} is in the future (today is {today})", param_hint="--to")
    if first > last:
        if start is not None:
            raise typer.BadParameter(f"--from {first} is after --to {last}", param_hint="--from")
        err.print(f"nothing to roll up: every day up to {last} is done (use --from to redo)")
        return
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    if len(days) > MAX_DAYS:
        raise typer.BadParameter(f"at most {MAX_DAYS} days at once", param_hint="--from")
    rows = 0
    with Progress(
        TextColumn("rolling up {task.fields[day]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    ) as progress:
        task = progress.add_task("rollup", total=len(days), day=days[0])
        for day in days:
            progress.update(task, day=day)
            rows += rollup_day(url, day).rows
            progress.advance(task)
    err.print(f"rolled up {len(days)} days, {first} to {last}: {rows} rows")
