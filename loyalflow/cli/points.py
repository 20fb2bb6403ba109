"""`loyalflow member redeem`: spend a member's points on a reward, like the HTTP endpoint."""

import asyncio
import uuid
from typing import Annotated

import typer
from rich.console import Console

from loyalflow.config import get_settings
from loyalflow.members.redemption import RedemptionRefused, redeem
from loyalflow.routing.router import route_events
from loyalflow.rules.loyalty import rules_from
from loyalflow.rules.rewards import rewards_from
from loyalflow.runtime.connection import connect

console = Console()
err = Console(stderr=True)


def member_redeem(
    member_id: str,
    reward_id: Annotated[str, typer.Argument(help="a reward id of the rewards catalogue")],
    redemption_id: Annotated[
        str | None,
        typer.Option("--id", help="redemption id: repeating it redeems once (default: random)"),
    ] = None,
) -> None:
    """Redeem a reward for a member, exactly like POST /members/{id}/redemptions."""
    settings = get_settings()
    try:
        outcome = redeem(
            settings.effective_database_url,
            member_id,
            redemption_id or str(uuid.uuid4()),
            reward_id,
            rewards=rewards_from(settings.rewards_file),
            rules=rules_from(settings.loyalty_rules_file),
        )
    except RedemptionRefused as refused:
        err.print(f"[red]refused[/red] ({refused.field}): {refused.message}")
        raise typer.Exit(1 if refused.status == 409 else 2) from refused
    r = outcome.redemption
    if not outcome.created:
        console.print(
            f"redemption {r.id} was already made; nothing to do (balance {outcome.balance})"
        )
        return
    console.print(
        f"redeemed {r.reward_id} for {r.cost} points: balance {outcome.balance} (id {r.id})"
    )

    async def _route() -> bool:
        client = await connect(settings, wait_seconds=5)
        return await route_events(client, settings, outcome.events)

    try:
        asyncio.run(_route())
    except Exception as exc:
        err.print(f"[yellow]stored, but Temporal is unreachable ({exc}); a worker will route it[/]")
