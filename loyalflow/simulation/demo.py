"""`loyalflow demo`: a synthetic program through every built-in journey, in skipped time.

The clock moves in steps of a day. Each step ingests the events planned in it (stored and
routed exactly as the API does, stamped with the server's clock), then skips to the next step;
the timers of every waiting journey fire on the way. At the start of each simulated day the
sweeps run, as their daily Schedules would (the test server has no Schedules): each
segment-triggered journey's sweep, and the inactivity sweep if a journey listens to it.
"""

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from loyalflow.catalog.registry import get_catalog
from loyalflow.models.api import EventIn
from loyalflow.rules.loyalty import LoyaltyRules
from loyalflow.rules.points_expiry import PointsExpiry
from loyalflow.rules.promotions import Promotion, Promotions
from loyalflow.simulation.demo_program import (
    DEMO_REWARD,
    REDEMPTION,
    PlannedEvent,
    Program,
    build_program,
)
from loyalflow.simulation.environment import Simulation, simulation
from loyalflow.simulation.summary import Summary, summarise

STEPS_PER_DAY = 1
STEP = timedelta(days=1) / STEPS_PER_DAY


@dataclass(frozen=True)
class DemoRun:
    members: int
    days: int
    seed: int
    started_at: datetime
    summary: Summary


def _event_in(sim: Simulation, planned: PlannedEvent, index: int, at: datetime) -> EventIn:
    return EventIn(
        event_id=f"demo-{index:06d}",
        member_id=planned.member_id,
        type=planned.type,
        occurred_at=at,
        properties=planned.properties,
    )


async def _backfill(sim: Simulation, program: Program) -> None:
    sim.put_members([(member.id, member.profile) for member in program.members])
    history = [_event_in(sim, e, i, sim.started_at + e.at) for i, e in enumerate(program.history())]
    await sim.ingest(history, route=False)


async def run_program(
    sim: Simulation, program: Program, days: int, on_day: Callable[[int], None] | None = None
) -> None:
    await _backfill(sim, program)
    offset = len(program.history())
    by_step: dict[int, list[tuple[int, PlannedEvent]]] = defaultdict(list)
    for index, planned in enumerate(program.live(), start=offset):
        by_step[int(planned.at / STEP)].append((index, planned))
    segments = sim.segment_journeys()
    # Only worth its cost when some journey listens to what it emits.
    journeys = get_catalog(sim.settings).journeys.values()
    inactivity = any(j.trigger.event == "member.inactive" for j in journeys)
    expiry = sim.rules.points_expiry.policy != "never"
    for day in range(days):
        for step in range(STEPS_PER_DAY):
            await sim.advance_to(sim.started_at + (day * STEPS_PER_DAY + step) * STEP)
            if step == 0:
                # One after the other, in a fixed order: a simulation replays the same
                # way from its seed (run together, a reactivation email could show the
                # balance before or after the day's expiry, at random).
                if inactivity:
                    await sim.sweep(tag=f"day{day}")
                if expiry:
                    await sim.sweep(points_expiry=True, tag=f"day{day}")
                for journey_id in segments:
                    await sim.sweep(journey_id=journey_id, tag=f"day{day}")
            due = by_step.get(day * STEPS_PER_DAY + step, [])
            if due:
                now = await sim.now()
                events = [(i, e) for i, e in due if e.type != REDEMPTION]
                await sim.ingest([_event_in(sim, e, i, now) for i, e in events])
                for index, planned in due:
                    if planned.type == REDEMPTION:
                        await sim.redeem(planned.member_id, f"demo-{index:06d}", DEMO_REWARD)
        if on_day is not None:
            on_day(day)
    await sim.advance_to(sim.started_at + days * timedelta(days=1))
    await sim.settle()


def demo_rules(rules: LoyaltyRules, started_at: datetime, days: int) -> LoyaltyRules:
    """The configured rules, plus what shows issue 14's mechanics in a short run: points
    expire a year after they were earned (the backfilled history's oldest lots expire in the
    run), and purchases earn double points during the run's second week."""
    start = started_at.replace(tzinfo=None)
    double = Promotion(
        id="demo-double-points",
        multiplier=2,
        starts=start + timedelta(days=min(7, days // 3)),
        ends=start + timedelta(days=min(14, max(days // 3 + 1, 2 * days // 3))),
        timezone="UTC",
    )
    return rules.model_copy(
        update={
            "points_expiry": PointsExpiry(policy="per_lot", months=12),
            "promotions": Promotions(offers=(*rules.promotions.offers, double)),
        }
    )


async def run_demo(
    journey_files: list[Path],
    members: int,
    days: int,
    seed: int,
    *,
    home: Path | None = None,
    on_day: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> DemoRun:
    """`workers`: worker processes, this one included (default: one per core, as the demo is
    CPU-bound Python)."""
    program = build_program(members, days, seed)
    extra_workers = max(0, (workers or os.cpu_count() or 1) - 1)
    async with simulation(
        journey_files, home=home, start_hour_utc=0, extra_workers=extra_workers
    ) as sim:
        sim.rules = demo_rules(sim.rules, sim.started_at, days)
        await run_program(sim, program, days, on_day)
        summary = summarise(sim.url, sim.settings, sim.started_at, days)
        return DemoRun(members, days, seed, sim.started_at, summary)
