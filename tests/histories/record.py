"""Records journey histories for the replay tests: `python -m tests.histories.record [NAME...]`.

Run it when a journey or the interpreter changes *on purpose*, after making sure the change is
guarded by `workflow.patched`: the committed histories are what runs in production look like,
and `tests/workflows/test_replay.py` proves that new code still replays them.
"""

import asyncio
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from loyalflow.activities.segments import segment_trigger
from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.models.db import upgrade_database
from loyalflow.models.experiments import assign_variant
from loyalflow.models.workflow_io import MemberEvent
from loyalflow.routing.start import start_journey
from loyalflow.runtime.connection import ensure_search_attributes
from loyalflow.runtime.worker import build_worker
from tests.conftest import TEMPORAL_TEST_SERVER
from tests.journey_helpers import (
    create_member,
    journey_result,
    only_journeys,
    send_event,
    wait_for_timer,
)

HERE = Path(__file__).parent
Scenario = Callable[[WorkflowEnvironment, Settings], Awaitable[str]]


async def welcome_completed(env: WorkflowEnvironment, settings: Settings) -> str:
    member = "H-welcome-completed"
    create_member(settings, member, email="h1@example.com", locale="fr")
    await send_event(env.client, settings, member, "member.joined", event_id=f"{member}-join")
    return f"journey-welcome-{member}"


async def welcome_purchase_exit(env: WorkflowEnvironment, settings: Settings) -> str:
    member = "H-welcome-purchase"
    create_member(settings, member, email="h2@example.com")
    client: Client = env.client
    await send_event(client, settings, member, "member.joined", event_id=f"{member}-join")
    workflow_id = f"journey-welcome-{member}"
    await wait_for_timer(client, workflow_id)
    await send_event(client, settings, member, "purchase", event_id=f"{member}-buy", amount=12)
    return workflow_id


def member_in(
    experiment: str, groups: tuple[tuple[str, int], ...], variant: str, prefix: str
) -> str:
    """A member id the A/B hash puts in `variant` (the hash is deterministic)."""
    return next(
        f"{prefix}-{n}"
        for n in range(10_000)
        if assign_variant(experiment, f"{prefix}-{n}", groups) == variant
    )


async def first_purchase(env: WorkflowEnvironment, settings: Settings, again: bool) -> str:
    member = f"H-first-purchase-{'again' if again else 'once'}"
    create_member(settings, member, email="h3@example.com", locale="fr")
    await send_event(env.client, settings, member, "purchase", event_id=f"{member}-1", amount=30)
    workflow_id = f"journey-first_purchase-{member}"
    if again:
        await wait_for_timer(env.client, workflow_id)
        await send_event(env.client, settings, member, "purchase", event_id=f"{member}-2", amount=9)
    return workflow_id


async def first_purchase_once(env: WorkflowEnvironment, settings: Settings) -> str:
    return await first_purchase(env, settings, again=False)


async def first_purchase_again(env: WorkflowEnvironment, settings: Settings) -> str:
    return await first_purchase(env, settings, again=True)


async def reactivation(env: WorkflowEnvironment, settings: Settings, variant: str) -> str:
    journey = get_catalog(settings).journeys["reactivation"]
    split = journey.steps[0]
    groups = split.groups  # type: ignore[union-attr]
    member = member_in("reactivation.channel", groups, variant, f"H-reactivation-{variant}")
    create_member(settings, member, email="h4@example.com", phone="+33612345678")
    now = await env.get_current_time()
    trigger = segment_trigger(journey.id, member, now)
    workflow_id = await start_journey(env.client, settings, journey, member, trigger)
    assert workflow_id is not None
    return workflow_id


async def reactivation_email(env: WorkflowEnvironment, settings: Settings) -> str:
    return await reactivation(env, settings, "email")


async def reactivation_holdout(env: WorkflowEnvironment, settings: Settings) -> str:
    return await reactivation(env, settings, "holdout")


async def tier_upgrade(env: WorkflowEnvironment, settings: Settings) -> str:
    member = "H-tier-upgrade"
    create_member(settings, member, email="h5@example.com")
    await send_event(env.client, settings, member, "purchase", event_id=f"{member}-1", amount=600)
    return f"journey-tier_upgrade-{member}"


async def points_reminder(env: WorkflowEnvironment, settings: Settings) -> str:
    member = "H-points-reminder"
    create_member(settings, member, email="h6@example.com", timezone="Europe/Paris")
    await send_event(env.client, settings, member, "purchase", event_id=f"{member}-1", amount=40)
    workflow_id = f"journey-points_reminder-{member}"
    for _ in range(2):  # two reminders, then the points are spent and the loop ends
        await wait_for_timer(env.client, workflow_id)
        await env.sleep(timedelta(days=31))
        await asyncio.sleep(0.5)
    await send_event(
        env.client, settings, member, "points.adjusted", event_id=f"{member}-spent", points=-40
    )
    return workflow_id


def started_by(journey_id: str, type: str, **properties: object) -> Scenario:
    """A journey started by one derived event (issue 14's loyalty journeys send one message)."""

    async def scenario(env: WorkflowEnvironment, settings: Settings) -> str:
        member = f"H-{journey_id}"
        create_member(settings, member, email=f"{journey_id}@example.com", locale="fr")
        journey = get_catalog(settings).journeys[journey_id]
        now = await env.get_current_time()
        trigger = MemberEvent(
            event_id=f"{member}-{type}", type=type, occurred_at=now, properties=properties
        )
        workflow_id = await start_journey(env.client, settings, journey, member, trigger)
        assert workflow_id is not None
        return workflow_id

    return scenario


async def birthday_none(env: WorkflowEnvironment, settings: Settings) -> str:
    """The birthday journey loops for years; its no-birthday path is the one that completes.
    Started directly: its trigger lets in only members with a birthday (this one's was removed
    before its first turn). birthday-none.json was recorded when every join started it."""
    member = "H-birthday-none"
    create_member(settings, member, email="h7@example.com")
    journey = get_catalog(settings).journeys["birthday"]
    now = await env.get_current_time()
    trigger = MemberEvent(event_id=f"{member}-join", type="member.joined", occurred_at=now)
    workflow_id = await start_journey(env.client, settings, journey, member, trigger)
    assert workflow_id is not None
    return workflow_id


SCENARIOS: dict[str, tuple[str, Scenario]] = {
    # Recorded with the first interpreter (linear steps), before the journey language grew.
    "welcome-v1-completed": ("welcome", welcome_completed),
    "welcome-v1-purchase-exit": ("welcome", welcome_purchase_exit),
    "welcome-v2-completed": ("welcome", welcome_completed),
    "welcome-v2-purchase-exit": ("welcome", welcome_purchase_exit),
    "first_purchase-cross-sell": ("first_purchase", first_purchase_once),
    "first_purchase-bought-again": ("first_purchase", first_purchase_again),
    "reactivation-email": ("reactivation", reactivation_email),
    "reactivation-holdout": ("reactivation", reactivation_holdout),
    "tier_upgrade": ("tier_upgrade", tier_upgrade),
    "points_reminder": ("points_reminder", points_reminder),
    "points_expiring": (
        "points_expiring",
        started_by(
            "points_expiring",
            "points.expiring",
            amount=320,
            expires_at="2027-03-31T00:00:00+00:00",
            days=30,
        ),
    ),
    "near_next_tier": (
        "near_next_tier",
        started_by("near_next_tier", "tier.near_next", tier="Silver", next_tier="Gold", needed=80),
    ),
    "referral_thanks": (
        "referral_thanks",
        started_by(
            "referral_thanks",
            "referral.converted",
            role="referrer",
            points=500,
            referred_id="H-friend",
            referrer_id="H-referral_thanks",
        ),
    ),
    "birthday-none": ("birthday", birthday_none),
    "redemption_confirmation": (
        "redemption_confirmation",
        started_by(
            "redemption_confirmation",
            "points.redeemed",
            redemption_id="R-1",
            reward_id="coffee",
            points=150,
            balance=50,
        ),
    ),
}


async def record(names: list[str]) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=TEMPORAL_TEST_SERVER, data_converter=pydantic_data_converter
    )
    await ensure_search_attributes(env.client, "default")
    try:
        for name in names:
            journey_id, scenario = SCENARIOS[name]
            with tempfile.TemporaryDirectory() as home:
                url = f"sqlite:///{home}/loyalflow.db"
                upgrade_database(url)
                settings = only_journeys(
                    Settings(home=Path(home), database_url=url, _env_file=None),
                    Path(home) / "journeys",
                    journey_id,
                )
                async with build_worker(env.client, settings):
                    workflow_id = await scenario(env, settings)
                    await journey_result(env, workflow_id)
                history = await env.client.get_workflow_handle(workflow_id).fetch_history()
                path = HERE / f"{name}.json"
                path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
                print(f"recorded {path.name}: {len(history.events)} events")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    # By default, every history but the v1 ones, which only the old code could produce.
    asyncio.run(record(sys.argv[1:] or [n for n in SCENARIOS if "-v1-" not in n]))
