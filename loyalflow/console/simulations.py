"""The console's simulations: a journey run for a test member over N days in skipped time, on the
same engine as `loyalflow simulate` (Temporal's time-skipping test server, the real workflow and
activities, a throwaway database and outbox; nothing reaches a real member or provider).

Each runs as a background task in the API process's event loop, one per user at a time; the page
polls its progress (the day reached) and shows the timeline when it is done. Runs live in memory
(the latest per user): a restart of the API forgets them, and stops those still running.
"""

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from loyalflow.config import Settings
from loyalflow.members.profile import get_member
from loyalflow.models.api import MemberIn
from loyalflow.rules.loyalty import rules_from
from loyalflow.simulation.simulate import ConsentGrant, MemberFile, ScriptEvent, simulate_member
from loyalflow.simulation.timeline import TimelineRow

DEFAULT_DAYS = 30
MAX_DAYS = 365
TEST_MEMBER_ID = "SIM-CONSOLE"
# Reserved for examples (RFC 2606, and a number no operator assigns): every send goes to the
# simulation's outbox anyway.
TEST_EMAIL = "simulated.member@example.com"
TEST_PHONE = "+33699999999"
HISTORY = timedelta(days=-1)  # the test member's points, before the simulation starts

State = Literal["running", "done", "failed"]


class SimulationBusy(Exception):
    """The user's previous simulation is still running."""


@dataclass(frozen=True)
class SampleProfile:
    locale: str
    tier: str | None  # the member starts with the tier's threshold in points
    channels: tuple[str, ...]  # channels the member consented to, for every topic


@dataclass
class SimulationRun:
    id: str
    user: str
    journey_id: str
    days: int
    member: str  # who was simulated, in words
    day: int = 0
    state: State = "running"
    error: str | None = None
    started_at: datetime | None = None  # the simulated start
    rows: list[TimelineRow] = field(default_factory=list)
    points: int = 0  # at the end
    tier: str | None = None

    def offset(self, at: datetime) -> str:
        """`+2d 09:00`: how far into the simulation."""
        seconds = int((at - (self.started_at or at)).total_seconds())
        sign, seconds = ("-" if seconds < 0 else "+"), abs(seconds)
        days, rest = divmod(seconds, 86400)
        return f"{sign}{days}d {rest // 3600:02d}:{rest % 3600 // 60:02d}"

    @property
    def sent(self) -> int:
        return sum(1 for r in self.rows if r.outcome == "sent")

    @property
    def not_sent(self) -> int:
        return sum(1 for r in self.rows if r.outcome in ("skipped", "failed"))


def sample_member(profile: SampleProfile, topics: set[str]) -> MemberFile:
    return MemberFile(
        id=TEST_MEMBER_ID,
        email=TEST_EMAIL,
        phone=TEST_PHONE,
        first_name="Test",
        locale=profile.locale,
        consents=[
            ConsentGrant(channel=channel, topic=topic, source="console:simulation")
            for channel in profile.channels
            for topic in sorted(topics)
        ],
    )


def opening_points(settings: Settings, tier: str | None) -> list[ScriptEvent]:
    """History that puts the member in `tier`: its threshold in points, a day before the start."""
    ladder = rules_from(settings.loyalty_rules_file).tiers
    threshold = next((level.threshold for level in ladder.levels if level.name == tier), 0)
    return points_history(int(threshold))


def points_history(points: int) -> list[ScriptEvent]:
    if points <= 0:
        return []
    return [ScriptEvent(at=HISTORY, type="points.adjusted", properties={"points": points})]


def copy_of_member(settings: Settings, member_id: str) -> tuple[MemberFile, list[ScriptEvent]]:
    """An existing member's profile, consents and points, for a simulation (the real member is
    left alone: the simulation has a database of its own). LookupError: no such member."""
    ladder = rules_from(settings.loyalty_rules_file).tiers
    found = get_member(settings.effective_database_url, member_id, ladder)
    if found is None:
        raise LookupError(member_id)
    profile = MemberIn(
        email=found.email,
        phone=found.phone,
        first_name=found.first_name,
        locale=found.locale,
        timezone=found.timezone,
        attributes=found.attributes,
    )
    member = MemberFile(
        id=found.id,
        consents=[
            ConsentGrant(channel=c.channel, topic=c.topic, source=c.source or "copied")
            for c in found.consents
            if c.status == "granted"
        ],
        **profile.model_dump(exclude_none=True),
    )
    return member, points_history(found.points)


class Simulations:
    """The latest run of each user; at most one running per user."""

    def __init__(self) -> None:
        self._runs: dict[str, SimulationRun] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def latest(self, user: str) -> SimulationRun | None:
        return self._runs.get(user)

    def find(self, user: str, run_id: str) -> SimulationRun | None:
        run = self._runs.get(user)
        return run if run is not None and run.id == run_id else None

    def start(
        self,
        settings: Settings,
        user: str,
        journey: tuple[str, Path],
        member: tuple[str, MemberFile, list[ScriptEvent]],
        days: int,
    ) -> SimulationRun:
        previous = self._runs.get(user)
        if previous is not None and previous.state == "running":
            raise SimulationBusy(user)
        journey_id, journey_path = journey
        label, member_file, history = member
        run = SimulationRun(uuid.uuid4().hex[:12], user, journey_id, days, label)
        self._runs[user] = run

        def reached(day: int) -> None:
            run.day = day

        async def go() -> None:
            try:
                result = await simulate_member(
                    journey_path, member_file, history, days, base=settings, on_day=reached
                )
                run.started_at, run.rows = result.started_at, result.rows
                run.points, run.tier = result.points, result.tier
                run.day, run.state = days, "done"
            except asyncio.CancelledError:
                run.state, run.error = "failed", "stopped: the console was shut down"
                raise
            except Exception as exc:  # any failure is shown on the page
                run.state, run.error = "failed", f"{type(exc).__name__}: {exc}"
            finally:
                self._tasks.pop(user, None)

        self._tasks[user] = asyncio.create_task(go(), name=f"simulation-{run.id}")
        return run

    async def stop_all(self) -> None:
        """Cancels every running simulation and waits for its test server to shut down."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
