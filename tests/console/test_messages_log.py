"""The message log in the browser: filters, keyset pages, the next page loaded in place by htmx,
and a bad date answered with the field's name."""

import uuid
from datetime import UTC, datetime, timedelta

from playwright.async_api import BrowserContext, expect

from loyalflow.models.db import session_scope
from loyalflow.models.tables import Message
from tests.conftest import unique_member_id
from tests.console.conftest import LiveConsole, sign_in
from tests.journey_helpers import create_member

SENT = 53
FAILED = 2


def ledger(console: LiveConsole, member: str, step: str) -> None:
    start = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    with session_scope(console.settings.effective_database_url) as session:
        for n in range(SENT + FAILED):
            failed = n >= SENT
            session.add(
                Message(
                    message_id=str(uuid.uuid4()),
                    member_id=member,
                    journey_id="welcome",
                    workflow_id=f"journey-welcome-{member}",
                    step_id=step,
                    channel="email",
                    template="welcome",
                    status="failed" if failed else "sent",
                    reason="554 rejected as spam" if failed else None,
                    # Two rows share each instant: the cursor must break ties by id.
                    created_at=start + timedelta(minutes=n // 2),
                )
            )


async def test_filters_pages_and_next_page_in_place(
    live_console: LiveConsole, context: BrowserContext
) -> None:
    member = unique_member_id("L")
    create_member(live_console.settings, member)
    step = f"step-{uuid.uuid4().hex[:6]}"
    ledger(live_console, member, step)
    page = await context.new_page()
    await sign_in(page, live_console, live_console.users.support)
    await page.goto(f"{live_console.url}/messages")
    await page.get_by_label("Step").fill(step)
    await page.get_by_role("button", name="Filter").click()
    rows = page.locator("#messages tbody tr:not(#more)")
    await expect(rows).to_have_count(50)
    await page.get_by_role("link", name="Older messages").click()
    await expect(rows).to_have_count(SENT + FAILED)
    await expect(page.get_by_role("link", name="Older messages")).to_have_count(0)
    assert "before=" not in page.url  # loaded in place: still the first page's URL
    shown = await page.locator("#messages tbody tr td:first-child").all_inner_texts()
    assert shown == sorted(shown, reverse=True) and len(set(shown)) == (SENT + FAILED + 1) // 2

    await page.get_by_label("Status").select_option("failed")
    await page.get_by_label("Reason contains").fill("SPAM")
    await page.get_by_role("button", name="Filter").click()
    await expect(rows).to_have_count(FAILED)
    await page.get_by_label("From").fill("2026-11-02")
    await page.get_by_role("button", name="Filter").click()
    await expect(rows).to_have_count(0)
    await expect(page.get_by_text("No message matches.")).to_be_visible()

    response = await page.goto(f"{live_console.url}/messages?since=yesterday")
    assert response is not None and response.status == 400
    await expect(page.get_by_role("alert")).to_have_text("Check the field: since")
