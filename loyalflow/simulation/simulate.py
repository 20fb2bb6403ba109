"""`loyalflow simulate`: one member, one journey, scripted events, in skipped time.

Script events at negative offsets (`at: -100d`) are the member's history before the simulation
starts: stored, never routed (as `loyalflow import events --no-route` does), so a member can
start out inactive for the reactivation journey. The member joins at offset 0 unless the script
has its own `member.joined`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import col, func, select

from loyalflow.config import Settings
from loyalflow.models.api import ConsentChange, EventIn, MemberIn
from loyalflow.models.db import session_scope
from loyalflow.models.durations import parse_duration
from loyalflow.models.tables import Enrollment, Member
from loyalflow.simulation.environment import Simulation, journey_file, simulation
from loyalflow.simulation.timeline import TimelineRow, member_timeline

DAY = timedelta(days=1)


class ConsentGrant(ConsentChange):
    status: str = "granted"  # type: ignore[assignment]  # a grant unless it says otherwise


class MemberFile(MemberIn):
    """A member file: the profile (as PUT /members) plus an id and consents."""

    model_config = ConfigDict(extra="forbid")

    id: str = "SIM-1"
    consents: list[ConsentGrant] = Field(default_factory=list)

    def profile(self) -> MemberIn:
        return MemberIn.model_validate(
            self.model_dump(exclude={"id", "consents"}, exclude_unset=True)
        )


class ScriptEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: timedelta
    type: str
    properties: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None

    @field_validator("at", mode="before")
    @classmethod
    def _offset(cls, value: object) -> object:
        if value in (0, "0", "-0"):
            return timedelta(0)
        return parse_duration(value)


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def load_member(path: Path) -> MemberFile:
    return MemberFile.model_validate(load_yaml(path) or {})


def load_script(path: Path) -> list[ScriptEvent]:
    data = load_yaml(path) or []
    if not isinstance(data, list):
        raise ValueError(f"{path}: a script is a YAML list of {{at, type, properties}} events")
    events = [ScriptEvent.model_validate(item) for item in data]
    return sorted(events, key=lambda e: e.at)  # stable: same offset keeps the file's order


def _event(member: MemberFile, index: int, script: ScriptEvent, at: datetime) -> EventIn:
    return EventIn(
        event_id=script.id or f"sim-{member.id}-{index}",
        member_id=member.id,
        type=script.type,
        occurred_at=at,
        properties=script.properties,
    )


def _with_join(member: MemberFile, script: list[ScriptEvent]) -> list[ScriptEvent]:
    opening: list[ScriptEvent] = []
    if not any(e.type == "member.joined" for e in script):
        opening.append(ScriptEvent(at=timedelta(0), type="member.joined"))
    opening += [
        ScriptEvent(
            at=timedelta(0), type="consent.updated", properties=c.model_dump(exclude_none=True)
        )
        for c in member.consents
    ]
    first_live = next((i for i, e in enumerate(script) if e.at >= timedelta(0)), len(script))
    return script[:first_live] + opening + script[first_live:]


def _running(sim: Simulation) -> tuple[int, int]:
    """(entries, entries still running)."""
    with session_scope(sim.url) as session:
        total = session.exec(select(func.count()).select_from(Enrollment)).one()
        running = session.exec(
            select(func.count()).where(col(Enrollment.exited_at).is_(None))
        ).one()
        return total, running


async def _ingest_live(sim: Simulation, event: EventIn) -> None:
    await sim.advance_to(event.occurred_at)
    # The server's clock, as the API would stamp a live event.
    now = await sim.now()
    await sim.ingest([event.model_copy(update={"occurred_at": now})])


async def run_script(
    sim: Simulation,
    member: MemberFile,
    script: list[ScriptEvent],
    days: int,
    on_day: Callable[[int], None] | None = None,
) -> list[TimelineRow]:
    """Runs the script day by day; `on_day(n)` after each simulated day (the console's
    progress). Ends early once every run has ended and no event is left to come."""
    start = sim.started_at
    end = start + days * DAY
    sim.put_member(member.id, member.profile())
    events = [_event(member, i, e, start + e.at) for i, e in enumerate(_with_join(member, script))]
    history = [e for e in events if e.occurred_at < start]
    live = [e for e in events if e.occurred_at >= start]
    await sim.ingest(history, route=False)
    segments = sim.segment_journeys()
    day, ended = 0, False
    while not ended and start + day * DAY < end:
        day_start = start + day * DAY
        await sim.advance_to(day_start)
        # What happens at the day's first instant (the opening join and consents) is in place
        # before the day's sweeps: a journey they start decides on the member as they are then.
        while live and live[0].occurred_at <= day_start:
            await _ingest_live(sim, live.pop(0))
        for journey_id in segments:
            await sim.sweep(journey_id=journey_id, tag=f"day{day}")
        while live and live[0].occurred_at < day_start + DAY:
            await _ingest_live(sim, live.pop(0))
        day += 1
        if on_day is not None:
            on_day(day)
        if not live:
            await sim.settle()
            total, running = _running(sim)
            # Nothing left to happen: every run ended and no event is to come.
            ended = bool(total and not running and not segments)
    if not ended:
        await sim.advance_to(end)
    await sim.settle()
    return await member_timeline(sim.client, sim.url, member.id, start)


@dataclass(frozen=True)
class SimulationResult:
    started_at: datetime
    rows: list[TimelineRow]
    points: int  # the member's balance and tier when the simulation ended
    tier: str | None


async def simulate_member(
    journey_path: Path,
    member: MemberFile,
    script: list[ScriptEvent],
    days: int,
    *,
    base: Settings | None = None,
    on_day: Callable[[int], None] | None = None,
) -> SimulationResult:
    """One member through one journey for `days` days in skipped time (the console's Simulate
    page; `loyalflow simulate` reads the same from files)."""
    async with simulation([journey_path], start_hour_utc=9, base=base) as sim:
        rows = await run_script(sim, member, script, days, on_day)
        with session_scope(sim.url) as session:
            final = session.get(Member, member.id)
            points, tier = (final.points, final.tier) if final else (0, None)
        return SimulationResult(sim.started_at, rows, points, tier)


async def simulate(
    journey: str, member_path: Path, script_path: Path, days: int, home: Path | None = None
) -> tuple[datetime, list[TimelineRow]]:
    member = load_member(member_path)
    script = load_script(script_path)
    async with simulation([journey_file(journey)], home=home, start_hour_utc=9) as sim:
        rows = await run_script(sim, member, script, days)
        return sim.started_at, rows
