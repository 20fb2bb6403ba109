"""Simulate in a real browser against the live API: a marketer runs the welcome journey for a test
member over 10 days in skipped time, sees the progress, then the timeline with the welcome
email; the start is audited; a second start waits for the first. Support staff cannot simulate;
bad input names its field. Stopping the API stops a running simulation's test server.

And the member page's timeline in pages: the newest first, "older" loads the rest in place,
nothing twice."""

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.async_api import Browser, BrowserContext, expect
from sqlmodel import col, select

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.config import Settings
from loyalflow.console.accounts import add_user
from loyalflow.members.ingest import store_events
from loyalflow.models.api import EventIn
from loyalflow.models.console_tables import AuditEntry
from loyalflow.models.db import session_scope
from loyalflow.rules.loyalty import rules_from
from loyalflow.support.timeline_page import PAGE_SIZE
from tests.conftest import free_port, unique_member_id
from tests.console.conftest import AXE, PASSWORD, LiveConsole, Users, sign_in
from tests.journey_helpers import create_member
from tests.processes import children_of, loyalflow_env, start, wait_for_http

SIMULATION_TIMEOUT_MS = 180_000


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def audit_rows(console: LiveConsole, actor: str) -> list[AuditEntry]:
    with session_scope(console.settings.effective_database_url) as session:
        return list(
            session.exec(
                select(AuditEntry).where(AuditEntry.actor == actor).order_by(col(AuditEntry.id))
            )
        )


async def test_a_marketer_simulates_the_welcome_journey_and_reads_its_timeline(
    live_console: LiveConsole, browser: Browser
) -> None:
    marketer = live_console.users.marketer
    # axe is injected as a script at the end: this context alone lets it past the page's CSP.
    context = await browser.new_context(bypass_csp=True, locale="en-GB")
    page = await context.new_page()
    await sign_in(page, live_console, marketer)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Simulate").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Simulate")
    await page.get_by_label("Journey").select_option("welcome")
    await page.get_by_label("Days").fill("10")
    await page.get_by_label("Locale").select_option("fr")
    await page.get_by_label("Tier").select_option("Silver")
    await page.get_by_role("button", name="Run the simulation").click()

    # The test server takes seconds to start: the first page shows the run at its beginning.
    await expect(page.locator("#simulation-progress")).to_contain_text("of 10")
    # One run per user at a time: a second start is refused, the first one goes on.
    await page.get_by_role("button", name="Run the simulation").click()
    await expect(page.get_by_role("alert")).to_contain_text("still running")
    await expect(page.locator("#simulation-progress")).to_contain_text("of 10")
    await expect(page.locator("progress")).to_have_attribute("max", "10")
    timeline = page.locator("#simulation-timeline")
    await expect(timeline).to_be_visible(timeout=SIMULATION_TIMEOUT_MS)
    welcome = timeline.locator("tr", has=page.get_by_role("cell", name="welcome_email"))
    await expect(welcome.first).to_contain_text("sent")
    await expect(welcome.first).to_contain_text("email · welcome")
    await expect(timeline).to_contain_text("member.joined")
    # The test member started at the Silver tier's threshold, a day before the simulation.
    await expect(page.locator("#simulation-points")).to_contain_text("500 points, tier Silver")
    await expect(page.locator("#simulation-done")).to_contain_text("over 10 simulated days")
    assert await page.locator("[hx-trigger]").count() == 0  # polling stopped
    await page.add_script_tag(path=str(AXE))
    found = json.loads(
        await page.evaluate("axe.run(document).then(r => JSON.stringify(r.violations))")
    )
    assert [v["id"] for v in found if v["impact"] in ("serious", "critical")] == []
    await context.close()

    started = [r for r in audit_rows(live_console, marketer) if r.action == "simulation.start"]
    assert len(started) == 1
    assert started[0].target == "journey:welcome" and started[0].details["days"] == 10


async def signed_in_client(
    browser: Browser, console: LiveConsole, name: str
) -> tuple[httpx.AsyncClient, str]:
    """An HTTP client with `name`'s session (signed in through the browser) and its CSRF token."""
    context = await browser.new_context(locale="en-GB")
    page = await context.new_page()
    await sign_in(page, console, name)
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    cookies = {c["name"]: c["value"] for c in await context.cookies()}
    await context.close()
    return httpx.AsyncClient(base_url=console.url, cookies=cookies), token or ""


async def test_support_cannot_simulate_and_bad_input_names_its_field(
    live_console: LiveConsole, context: BrowserContext, browser: Browser
) -> None:
    support_page = await context.new_page()
    await sign_in(support_page, live_console, live_console.users.support)
    await expect(support_page.get_by_role("link", name="Simulate")).to_have_count(0)
    response = await support_page.goto(f"{live_console.url}/simulate")
    assert response is not None and response.status == 403
    http, token = await signed_in_client(browser, live_console, live_console.users.support)
    async with http:
        refused = await http.post(
            "/simulate", data={"csrf_token": token, "journey": "welcome", "days": "1"}
        )
        assert refused.status_code == 403

    admin = await browser.new_context(locale="en-GB")
    admin_page = await admin.new_page()
    await sign_in(admin_page, live_console, live_console.users.admin)
    await admin_page.goto(f"{live_console.url}/simulate")
    await admin_page.get_by_label("Or a copy of member (id)").fill("M-no-such-member-anywhere")
    await admin_page.get_by_role("button", name="Run the simulation").click()
    await expect(admin_page.get_by_role("alert")).to_contain_text("(member_id)")
    await admin.close()

    http, token = await signed_in_client(browser, live_console, live_console.users.marketer)
    async with http:
        for days in ("0", "366", "ten"):
            bad = await http.post(
                "/simulate", data={"csrf_token": token, "journey": "welcome", "days": days}
            )
            assert bad.status_code == 400 and "(days)" in bad.text
        unknown = await http.post(
            "/simulate", data={"csrf_token": token, "journey": "no-such", "days": "1"}
        )
        assert unknown.status_code == 400 and "(journey)" in unknown.text
        no_token = await http.post("/simulate", data={"journey": "welcome", "days": "1"})
        assert no_token.status_code == 403
    started = [
        r
        for user in (live_console.users.marketer, live_console.users.support)
        for r in audit_rows(live_console, user)
        if r.action == "simulation.start"
    ]
    assert started == []


async def test_the_member_timeline_pages_newest_first_and_loads_older_entries_in_place(
    live_console: LiveConsole, context: BrowserContext
) -> None:
    settings = live_console.settings
    member = unique_member_id("P")
    create_member(settings, member, email=f"{member.lower()}@example.com")
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    total = PAGE_SIZE * 2 + 7
    events = [
        EventIn(
            event_id=f"{member}-visit-{i:03d}",
            member_id=member,
            type="visit",
            occurred_at=start + timedelta(hours=i),
            properties={"n": i},
        )
        for i in range(total)
    ]
    store_events(
        settings.effective_database_url,
        events,
        rules_from(settings.loyalty_rules_file),
        BUILT_IN_ONLY,
    )
    page = await context.new_page()
    await sign_in(page, live_console, live_console.users.support)
    await page.goto(f"{live_console.url}/members/{member}")
    rows = page.locator("#timeline-rows tr.kind-event")
    await expect(rows).to_have_count(PAGE_SIZE)
    newest = start + timedelta(hours=total - 1)
    await expect(rows.first).to_contain_text(str(newest.replace(tzinfo=None))[:16])

    # Without htmx, the link is a page of its own; the fragment's URL sends a browser there too.
    href = await page.get_by_role("link", name="Older entries").get_attribute("href")
    fragment = await page.get_by_role("link", name="Older entries").get_attribute("hx-get")
    assert href is not None and fragment is not None
    for url in (href, fragment):
        await page.goto(live_console.url.removesuffix("/console") + url)
        await expect(rows).to_have_count(PAGE_SIZE)
        second = start + timedelta(hours=total - 1 - PAGE_SIZE)
        await expect(rows.first).to_contain_text(str(second.replace(tzinfo=None))[:16])
    await page.goto(f"{live_console.url}/members/{member}")

    await page.evaluate("document.body.dataset.marker = 'same document'")
    await page.get_by_role("link", name="Older entries").click()
    await expect(rows).to_have_count(PAGE_SIZE * 2)
    await page.get_by_role("link", name="Older entries").click()
    await expect(rows).to_have_count(total)
    await expect(page.get_by_role("link", name="Older entries")).to_have_count(0)
    assert await page.evaluate("document.body.dataset.marker") == "same document"
    times = await rows.locator("td:first-child").all_inner_texts()
    assert len(set(times)) == total  # nothing twice
    assert times == sorted(times, reverse=True)


async def test_stopping_the_api_stops_a_running_simulation_and_its_test_server(
    console_settings: Settings, tmp_path: Path, context: BrowserContext
) -> None:
    name = f"sim-admin-{uuid.uuid4().hex[:6]}"
    add_user(console_settings.effective_database_url, name, "admin", PASSWORD)
    port = free_port()
    log = tmp_path / "api.log"
    env = loyalflow_env(
        console_settings,
        LOYALFLOW_API_PORT=str(port),
        LOYALFLOW_JOURNEYS_DIR=str(console_settings.journeys_dir),
    )
    api = start(["api"], env, log)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", api, log, 60)
        users = Users(admin=name, support=name, marketer=name)
        console = LiveConsole(f"http://127.0.0.1:{port}/console", console_settings, users)
        page = await context.new_page()
        await sign_in(page, console, name)
        await page.goto(f"{console.url}/simulate")
        await page.get_by_label("Days").fill("365")
        await page.get_by_role("button", name="Run the simulation").click()
        await expect(page.locator("#simulation-progress")).to_be_visible()
        servers: dict[int, str] = {}
        for _ in range(300):  # the test server starts within seconds
            servers = {
                pid: command
                for pid, command in children_of(api.pid).items()
                if "temporal-test-server" in command
            }
            if servers:
                break
            await asyncio.sleep(0.1)
        assert len(servers) == 1, children_of(api.pid)
    finally:
        api.terminate()
        api.wait(timeout=60)
    assert not [pid for pid in servers if alive(pid)], (
        "the simulation's test server outlived the API"
    )
