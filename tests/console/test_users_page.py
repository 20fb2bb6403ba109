"""Admins manage users in the browser: add one (passwords typed twice), who can then sign in;
disable them, which ends their session at once. Other roles are refused, even with a valid
CSRF token."""

import uuid

import httpx
from playwright.async_api import Browser, BrowserContext, expect
from sqlmodel import col, select

from loyalflow.console.accounts import list_users
from loyalflow.models.console_tables import AuditEntry
from loyalflow.models.db import session_scope
from tests.console.conftest import LiveConsole, sign_in

NEW_PASSWORD = "another long password"


async def test_an_admin_adds_then_disables_a_user(
    live_console: LiveConsole, context: BrowserContext, browser: Browser
) -> None:
    admin = live_console.users.admin
    newcomer = f"new-{uuid.uuid4().hex[:6]}"
    page = await context.new_page()
    await sign_in(page, live_console, admin)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    await page.get_by_label("User name").fill(newcomer)
    await page.get_by_label("Role").select_option("support")
    await page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("Password again").fill(NEW_PASSWORD + "!")
    await page.get_by_role("button", name="Add the user").click()
    await expect(page.get_by_role("alert")).to_have_text("The two passwords differ.")
    await page.get_by_label("User name").fill(newcomer)
    await page.get_by_label("Role").select_option("support")
    await page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("Password again").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Add the user").click()
    await expect(page.get_by_role("cell", name=newcomer, exact=True)).to_be_visible()

    theirs = await browser.new_context(locale="en-GB")
    their_page = await theirs.new_page()
    await sign_in(their_page, live_console, newcomer, NEW_PASSWORD)
    await expect(their_page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {newcomer}")

    await page.get_by_role("button", name=f"Disable {newcomer}").click()
    await expect(page.get_by_role("row", name=newcomer)).to_contain_text("disabled")
    await their_page.reload()
    assert their_page.url.startswith(f"{live_console.url}/login")  # signed out at once
    await theirs.close()

    with session_scope(live_console.settings.effective_database_url) as session:
        rows = session.exec(
            select(AuditEntry.actor, AuditEntry.action)
            .where(AuditEntry.target == f"user:{newcomer}")
            .order_by(col(AuditEntry.id))
        ).all()
    assert [tuple(r) for r in rows] == [
        (admin, "user.add"),
        (newcomer, "login"),
        (admin, "user.disable"),
    ]


async def test_other_roles_cannot_manage_users(
    live_console: LiveConsole, context: BrowserContext
) -> None:
    page = await context.new_page()
    await sign_in(page, live_console, live_console.users.marketer)
    response = await page.goto(f"{live_console.url}/users")
    assert response is not None and response.status == 403
    await page.goto(f"{live_console.url}/")
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    cookies = {c["name"]: c["value"] for c in await context.cookies()}
    intruder = f"intruder-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(cookies=cookies) as client:
        refused = await client.post(
            f"{live_console.url}/users",
            data={
                "name": intruder,
                "role": "admin",
                "password": NEW_PASSWORD,
                "password_again": NEW_PASSWORD,
                "csrf_token": token,
            },
        )
    assert refused.status_code == 403
    names = [u.name for u in list_users(live_console.settings.effective_database_url)]
    assert intruder not in names
