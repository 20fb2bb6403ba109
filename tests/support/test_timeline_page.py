"""The member timeline in pages, newest first (the console's): walking every page gives the whole
timeline exactly once, entries at one instant never split across pages, on SQLite and PostgreSQL;
the page's queries use the (member, time) indexes."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.catalog.registry import get_catalog, publish_versions
from loyalflow.config import Settings
from loyalflow.members.ingest import store_events
from loyalflow.models.api import EventIn
from loyalflow.models.db import get_engine
from loyalflow.models.timeline import TimelineEntry
from loyalflow.rules.loyalty import rules_from
from loyalflow.runtime.worker import build_worker
from loyalflow.support.timeline import build_timeline
from loyalflow.support.timeline_page import TimelinePage, timeline_page
from tests.journey_helpers import (
    create_member,
    only_journeys,
    send_event,
    stop_running_journeys,
    wait_for_messages,
    wait_for_timer,
)

Key = tuple[datetime, str, str]


def key(entry: TimelineEntry) -> Key:
    return (entry.at, entry.kind, entry.summary)


def walk(settings: Settings, member_id: str, size: int) -> list[TimelinePage]:
    pages: list[TimelinePage] = []
    before = None
    while True:
        page = timeline_page(settings, member_id, before, size=size)
        assert page is not None
        pages.append(page)
        if page.older is None:
            return pages
        assert page.entries, "a page that promises older entries is never empty"
        before = page.older


def store_visits(settings: Settings, member_id: str, times: list[datetime]) -> None:
    events = [
        EventIn(event_id=f"{member_id}-v{i}", member_id=member_id, type="visit", occurred_at=at)
        for i, at in enumerate(times)
    ]
    store_events(
        settings.effective_database_url,
        events,
        rules_from(settings.loyalty_rules_file),
        BUILT_IN_ONLY,
    )


def test_pages_cover_the_timeline_once_newest_first_and_keep_an_instant_whole(
    settings: Settings, member_id: str
) -> None:
    create_member(settings, member_id, email="pages@example.com")
    start = datetime(2026, 1, 1, 9, tzinfo=UTC)
    times = [start + timedelta(minutes=i) for i in range(23)]
    times += [start + timedelta(minutes=7)] * 4  # five visits at one instant
    times += [start + timedelta(days=1)] * 12  # more than a page at one instant
    store_visits(settings, member_id, times)
    whole = build_timeline(settings, member_id)
    assert whole is not None and len(whole.entries) == len(times)

    pages = walk(settings, member_id, size=5)

    shown = [key(e) for p in pages for e in p.entries]
    assert sorted(shown) == sorted(key(e) for e in whole.entries)  # nothing twice, nothing lost
    assert [k[0] for k in shown] == sorted((k[0] for k in shown), reverse=True)
    assert len(pages[0].entries) == 12  # the crowded instant, whole, first
    assert all(len(p.entries) <= 5 for p in pages[1:])
    for newer, older in pairwise(pages):
        assert min(e.at for e in newer.entries) > max(e.at for e in older.entries)
    first = timeline_page(settings, member_id)
    assert first is not None and first.entries[0].at == start + timedelta(days=1)
    assert timeline_page(settings, "M-nobody-at-all") is None


def test_a_page_reads_the_members_rows_by_index(settings: Settings) -> None:
    if not settings.effective_database_url.startswith("postgresql"):
        pytest.skip("the plan is PostgreSQL's")
    with get_engine(settings.effective_database_url).connect() as connection:
        connection.execute(text("SET enable_seqscan = off"))
        # On a near-empty table a one-row sort costs nothing, and with other tests' rows analysed
        # the planner may pick `ix_<table>_member_id` and sort; this asks whether an index *can*
        # give the order (a plan still sorts when none can).
        connection.execute(text("SET enable_sort = off"))
        plans = {
            table: "\n".join(
                row[0]
                for row in connection.execute(
                    text(
                        f"EXPLAIN SELECT * FROM {table} WHERE member_id = 'x' ORDER BY {time} DESC LIMIT 51"
                    )
                )
            )
            for table, time in (
                ("event", "occurred_at"),
                ("points_ledger", "at"),
                ("journey_step", "at"),
                ("support_action", "at"),
                ("enrollment", "entered_at"),
                ("message", "coalesce(sent_at, created_at)"),
            )
        }
    for table, plan in plans.items():
        assert f"ix_{table}_member_" in plan, plan
        assert "Sort" not in plan, plan  # the index gives the order: no sort of every row


@pytest.fixture
def welcome_settings(settings: Settings, tmp_path: Path) -> Settings:
    chosen = only_journeys(settings, tmp_path / "journeys", "welcome")
    publish_versions(chosen.effective_database_url, get_catalog(chosen))
    return chosen


@pytest.fixture
async def worker(
    time_skipping_env: WorkflowEnvironment, welcome_settings: Settings
) -> AsyncIterator[Worker]:
    async with build_worker(time_skipping_env.client, welcome_settings) as running:
        yield running
        await stop_running_journeys(time_skipping_env.client, welcome_settings)


async def test_pages_of_a_journey_run_hold_what_the_whole_timeline_holds(
    time_skipping_env: WorkflowEnvironment,
    welcome_settings: Settings,
    worker: Worker,
    member_id: str,
) -> None:
    settings, client = welcome_settings, time_skipping_env.client
    create_member(settings, member_id, email="run-pages@example.com", first_name="Ada")
    assert await send_event(client, settings, member_id, "member.joined")
    assert len(await wait_for_messages(settings, member_id, 1)) == 1
    await wait_for_timer(client, f"journey-welcome-{member_id}")
    whole = build_timeline(settings, member_id)
    assert whole is not None
    kinds = {e.kind for e in whole.entries}
    assert {"event", "journey_entered", "journey_step", "message"} <= kinds

    pages = walk(settings, member_id, size=2)

    shown = [key(e) for p in pages for e in p.entries]
    assert sorted(shown) == sorted(key(e) for e in whole.entries)
    assert len(pages) > 1
