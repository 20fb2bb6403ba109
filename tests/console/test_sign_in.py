"""Signing in and out in a real browser: each role sees its pages; wrong passwords and
throttling; a role cannot open another role's page even by typing its address."""

import httpx
from playwright.async_api import BrowserContext, expect
from sqlmodel import col, select

from loyalflow.models.console_tables import AuditEntry
from loyalflow.models.db import session_scope
from tests.console.conftest import LOGIN_FAILURES, PASSWORD, LiveConsole, sign_in


def audit_actions(console: LiveConsole, actor: str) -> list[str]:
    with session_scope(console.settings.effective_database_url) as session:
        return list(
            session.exec(
                select(AuditEntry.action)
                .where(AuditEntry.actor == actor)
                .order_by(col(AuditEntry.id))
            )
        )


async def test_each_role_signs_in_and_sees_its_pages(
    live_console: LiveConsole, context: BrowserContext
) -> None:
    users = live_console.users
    expected = {
        users.admin: [
            "Members",
            "Messages",
            "Journeys",
            "Templates",
            "Simulate",
            "Users",
            "Audit log",
        ],
        users.support: ["Members", "Messages"],  # journeys and simulations are the marketers'
        users.marketer: ["Members", "Messages", "Journeys", "Templates", "Simulate"],
    }
    for name, links in expected.items():
        page = await context.new_page()
        await sign_in(page, live_console, name)
        # Admins and marketers land on the dashboard; support on the links of their pages.
        home = f"Welcome, {name}" if name == users.support else "Dashboard"
        await expect(page.get_by_role("heading", level=1)).to_have_text(home)
        nav = page.get_by_role("navigation", name="Main")
        assert await nav.get_by_role("link").all_inner_texts() == links
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the console")
        # Signed out: the session is gone on the server, not just the cookie.
        await page.goto(f"{live_console.url}/members")
        assert page.url.startswith(f"{live_console.url}/login")
        await page.close()
        assert audit_actions(live_console, name) == ["login", "logout"]


async def test_a_role_is_refused_a_page_it_may_not_open(
    live_console: LiveConsole, context: BrowserContext
) -> None:
    page = await context.new_page()
    await sign_in(page, live_console, live_console.users.support)
    response = await page.goto(f"{live_console.url}/audit")
    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("Not for your role")


async def test_wrong_password_then_throttled_even_with_the_right_one(
    live_console: LiveConsole, context: BrowserContext
) -> None:
    page = await context.new_page()
    name = live_console.users.marketer
    for _ in range(LOGIN_FAILURES):
        await sign_in(page, live_console, name, "not the password at all")
        await expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    await sign_in(page, live_console, name, PASSWORD)
    await expect(page.get_by_role("alert")).to_have_text(
        "Too many failed sign-ins. Wait a few minutes and try again."
    )
    assert page.url.startswith(f"{live_console.url}/login")
    # Other users are not locked out by one user's failures.
    await sign_in(page, live_console, live_console.users.support)
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Welcome, {live_console.users.support}"
    )
    assert audit_actions(live_console, name) == ["login.failed"] * LOGIN_FAILURES + [
        "login.throttled"
    ]


def test_pages_need_a_session(live_console: LiveConsole) -> None:
    response = httpx.get(f"{live_console.url}/members?q=x", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=")
