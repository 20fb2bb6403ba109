"""Marketers pause and resume a journey's entries in the browser: while paused, a trigger starts
nothing; every change is audited with the signed-in user. A support user is refused the journeys
pages and the action on the server (403, nothing changes), even with a valid CSRF token; so is a
form without its token."""

from collections.abc import Iterator

import httpx
import pytest
from playwright.async_api import BrowserContext, expect
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from loyalflow.console.journey_pauses import change_pause
from loyalflow.models.console_tables import AuditEntry
from loyalflow.models.db import session_scope
from loyalflow.routing.pauses import paused_journey
from tests.conftest import unique_member_id
from tests.console.conftest import LiveConsole, sign_in
from tests.journey_helpers import create_member, enrollment, send_event

JOURNEY = "welcome"  # the live console's only journey


@pytest.fixture
def welcome_open_after(live_console: LiveConsole) -> Iterator[LiveConsole]:
    """The database lives for the whole session: the journey is open again for the next test."""
    yield live_console
    change_pause(live_console.settings, JOURNEY, False, "test-cleanup")


def journey_audit(console: LiveConsole, since: int) -> list[tuple[str, str]]:
    with session_scope(console.settings.effective_database_url) as session:
        rows = session.exec(
            select(AuditEntry.actor, AuditEntry.action)
            .where(AuditEntry.target == f"journey:{JOURNEY}", col(AuditEntry.id) > since)
            .order_by(col(AuditEntry.id))
        )
        return [(actor, action) for actor, action in rows]


def last_audit_id(console: LiveConsole) -> int:
    with session_scope(console.settings.effective_database_url) as session:
        ids = session.exec(select(AuditEntry.id).order_by(col(AuditEntry.id).desc()).limit(1))
        return ids.first() or 0


async def test_a_marketer_pauses_a_journey_and_a_new_trigger_starts_nothing(
    welcome_open_after: LiveConsole, context: BrowserContext, dev_server_env: WorkflowEnvironment
) -> None:
    console = welcome_open_after
    settings, marketer = console.settings, console.users.marketer
    url = settings.effective_database_url
    since = last_audit_id(console)
    page = await context.new_page()
    await sign_in(page, console, marketer)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Journeys").click()
    row = page.get_by_role("row").filter(has_text=JOURNEY)
    await expect(row).to_contain_text("active")
    await page.get_by_role("button", name=f"Pause {JOURNEY}").click()
    await expect(row).to_contain_text(f"paused by {marketer}")
    assert paused_journey(url, JOURNEY)

    member = unique_member_id("J")
    create_member(settings, member)
    assert await send_event(dev_server_env.client, settings, member, "member.joined")
    assert enrollment(settings, f"journey-{JOURNEY}-{member}") is None

    await page.get_by_role("button", name=f"Resume {JOURNEY}").click()
    await expect(row).to_contain_text("active")
    assert not paused_journey(url, JOURNEY)
    assert journey_audit(console, since) == [
        (marketer, "journey.pause"),
        (marketer, "journey.resume"),
    ]


async def test_support_cannot_pause_a_journey_nor_anyone_without_the_csrf_token(
    welcome_open_after: LiveConsole, context: BrowserContext
) -> None:
    console = welcome_open_after
    url = console.settings.effective_database_url
    since = last_audit_id(console)
    page = await context.new_page()
    await sign_in(page, console, console.users.support)
    # Journeys are the marketers': no link, and the pages themselves refuse support staff.
    navigation = page.get_by_role("navigation", name="Main")
    await expect(navigation.get_by_role("link", name="Members")).to_be_visible()
    await expect(navigation.get_by_role("link", name="Journeys")).to_have_count(0)
    for path in ("/journeys", f"/journeys/{JOURNEY}"):
        response = await page.goto(f"{console.url}{path}")
        assert response is not None and response.status == 403, path
    await page.goto(f"{console.url}/")
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    cookies = {c["name"]: c["value"] for c in await context.cookies()}
    async with httpx.AsyncClient(cookies=cookies) as client:
        refused = await client.post(
            f"{console.url}/journeys/{JOURNEY}/pause", data={"csrf_token": token}
        )
    assert refused.status_code == 403
    assert not paused_journey(url, JOURNEY)

    marketer_context = await context.browser.new_context(locale="en-GB")  # type: ignore[union-attr]
    marketer_page = await marketer_context.new_page()
    await sign_in(marketer_page, console, console.users.marketer)
    cookies = {c["name"]: c["value"] for c in await marketer_context.cookies()}
    async with httpx.AsyncClient(cookies=cookies) as client:
        no_token = await client.post(f"{console.url}/journeys/{JOURNEY}/pause", data={"x": "1"})
        unknown = await client.post(
            f"{console.url}/journeys/no_such_journey/pause",
            data={
                "csrf_token": await marketer_page.locator(
                    "input[name=csrf_token]"
                ).first.get_attribute("value")
                or ""
            },
        )
    await marketer_context.close()
    assert no_token.status_code == 403
    assert unknown.status_code == 404
    assert not paused_journey(url, JOURNEY)
    assert journey_audit(console, since) == []
