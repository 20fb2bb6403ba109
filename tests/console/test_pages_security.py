"""What the browser is told and shown: security headers on every response, cookie flags,
masked contact details for marketers, member input shown as text, no Content-Security-Policy
violation (htmx runs under the strict policy), and no serious accessibility problem on any page."""

import json
import uuid
from urllib.parse import quote

import httpx
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from loyalflow.models.db import session_scope
from loyalflow.models.tables import Message
from tests.conftest import unique_member_id
from tests.console.conftest import AXE, LiveConsole, sign_in
from tests.journey_helpers import create_member

SCRIPT_NAME = "<script>alert(1)</script>"


def security_headers_ok(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


def test_every_response_carries_the_security_headers_over_plain_http(
    live_console: LiveConsole,
) -> None:
    login = httpx.get(f"{live_console.url}/login")
    assert login.status_code == 200
    security_headers_ok(login)
    assert login.headers["cache-control"] == "no-store"
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # the public URL is http: a Secure cookie would never return
    for path in ("/members", "/no-such-page"):
        security_headers_ok(httpx.get(f"{live_console.url}{path}"))
    script = httpx.get(f"{live_console.url}/static/vendor/htmx.min.js")
    assert script.status_code == 200
    security_headers_ok(script)
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in script.headers["content-type"]


async def test_a_marketer_sees_masked_contacts_and_member_input_as_text(
    live_console: LiveConsole, context: BrowserContext, browser: Browser
) -> None:
    member = unique_member_id("X")
    # A phone of its own: other tests in the session store members with the same sample number.
    phone = f"+3361{uuid.uuid4().int % 10**5:05d}78"
    create_member(
        live_console.settings,
        member,
        email="alice@example.com",
        phone=phone,
        first_name=SCRIPT_NAME,
    )
    bounce = f"550 5.1.1 <alice@example.com>: no such user (sms fallback {phone})"
    with session_scope(live_console.settings.effective_database_url) as session:
        session.add(
            Message(
                message_id=str(uuid.uuid4()),
                member_id=member,
                journey_id="welcome",
                workflow_id=f"journey-welcome-{member}",
                step_id="welcome_email",
                channel="email",
                template="welcome",
                status="failed",
                reason=bounce,
            )
        )
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await sign_in(page, live_console, live_console.users.marketer)
    # Marketers find members by id only: an address would unmask who owns it.
    await page.goto(f"{live_console.url}/members?q=alice%40example.com")
    await expect(page.get_by_text("No member matches.")).to_be_visible()
    await page.goto(f"{live_console.url}/members?q={member}")
    await expect(page.get_by_role("cell", name=SCRIPT_NAME)).to_be_visible()
    await page.get_by_role("link", name=member).click()
    await expect(page.locator("dd.email")).to_have_text("a•••@example.com")
    await expect(page.locator("dd.phone")).to_have_text("+33•••••••78")
    await expect(page.locator("dd.name")).to_have_text(SCRIPT_NAME)
    await expect(page.locator("#failed ~ table")).to_contain_text("<a•••@example.com>")
    # Not in the profile, not in free text such as a bounce reason, not in the message log.
    assert "alice@example.com" not in await page.content()
    assert phone not in await page.content()
    await page.goto(f"{live_console.url}/messages?status=failed&reason=no+such+user")
    await expect(page.locator("#messages")).to_contain_text("+33•••••••78")
    assert "alice@example.com" not in await page.content()
    await page.goto(f"{live_console.url}/members/{member}")
    # Read-only: no action for a marketer, and the server refuses one anyway.
    await expect(page.get_by_role("button", name="Record on the member's behalf")).to_have_count(0)
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    cookies = {c["name"]: c["value"] for c in await context.cookies()}
    async with httpx.AsyncClient(cookies=cookies) as client:
        refused = await client.post(
            f"{live_console.url}/members/{member}/consent",
            data={
                "channel": "email",
                "topic": "onboarding",
                "status": "revoked",
                "csrf_token": token,
            },
        )
    assert refused.status_code == 403
    assert dialogs == []  # the name never ran as a script

    # Support staff see the same member in full.
    support_page = await browser.new_page(locale="en-GB")  # a context of its own
    await sign_in(support_page, live_console, live_console.users.support)
    spaced = " ".join((phone[:3], phone[3], phone[4:6], phone[6:8], phone[8:10], phone[10:]))
    await support_page.goto(f"{live_console.url}/members?q={quote(spaced)}")
    await expect(support_page.get_by_role("cell", name=phone)).to_be_visible()
    await support_page.context.close()


async def pages_of_the_console(page: Page, console: LiveConsole, member: str) -> list[str]:
    """Visits every page an admin can open; returns their URLs."""
    visited = []
    for path in (
        "/",
        "/members",
        f"/members?q={member}",
        f"/members/{member}",
        "/messages",
        "/messages?status=failed",
        "/journeys",
        "/templates?template=welcome",
        "/simulate",
        "/users",
        "/audit",
        "/no-such-page",
    ):
        await page.goto(console.url + path)
        visited.append(page.url)
    return visited


async def test_no_csp_violation_and_htmx_swaps_in_place(
    live_console: LiveConsole, context: BrowserContext
) -> None:
    member = unique_member_id("H")
    create_member(live_console.settings, member, email=f"{member.lower()}@example.com")
    page = await context.new_page()
    problems: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", watch)
    page.on("pageerror", lambda error: problems.append(str(error)))
    await sign_in(page, live_console, live_console.users.admin)
    await pages_of_the_console(page, live_console, member)
    # The search form answers in place (htmx) and keeps the address bar in step.
    await page.goto(f"{live_console.url}/members")
    assert await page.evaluate("typeof htmx") == "object"
    await page.evaluate("document.body.dataset.marker = 'same document'")
    await page.get_by_label("Member id, email or phone").fill(member)
    await page.get_by_role("button", name="Find").click()
    await expect(page.get_by_role("link", name=member)).to_be_visible()
    assert await page.evaluate("document.body.dataset.marker") == "same document"
    assert page.url.endswith(f"/members?q={member}")
    # Back and forward restore whole pages, never a bare fragment.
    await page.go_back()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Members")
    await page.go_forward()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Members")
    await expect(page.get_by_role("link", name=member)).to_be_visible()
    csp = [p for p in problems if "Content Security Policy" in p]
    assert csp == []
    assert await page.evaluate("document.querySelectorAll('style').length") == 0


async def test_axe_finds_no_serious_or_critical_problem_on_any_page(
    live_console: LiveConsole, browser: Browser
) -> None:
    member = unique_member_id("A")
    create_member(live_console.settings, member, email=f"{member.lower()}@example.com")
    # axe is injected as a script: this context alone lets it past the page's CSP.
    context = await browser.new_context(bypass_csp=True, locale="en-GB")
    page = await context.new_page()
    found: dict[str, list[str]] = {}

    async def check() -> None:
        await page.add_script_tag(path=str(AXE))
        result = await page.evaluate("axe.run(document).then(r => JSON.stringify(r.violations))")
        serious = [
            f"{v['id']}: {v['help']} ({len(v['nodes'])})"
            for v in json.loads(result)
            if v["impact"] in ("serious", "critical")
        ]
        found[page.url] = serious

    await page.goto(f"{live_console.url}/login")
    await check()
    await sign_in(page, live_console, live_console.users.admin)
    for path in (
        "/",
        f"/members?q={member}",
        f"/members/{member}",
        "/messages",
        "/journeys",
        "/templates?template=welcome",
        "/simulate",
        "/users",
        "/audit",
        "/no-such-page",
    ):
        await page.goto(live_console.url + path)
        await check()
    await context.close()
    assert len(found) == 11
    assert {url: problems for url, problems in found.items() if problems} == {}


async def test_french_from_the_browser_then_english_by_choice(
    live_console: LiveConsole, browser: Browser
) -> None:
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    await page.goto(f"{live_console.url}/login")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Connexion à la console")
    assert await page.get_attribute("html", "lang") == "fr"
    await page.get_by_label("Nom d'utilisateur").fill(live_console.users.support)
    await page.get_by_label("Mot de passe").fill("correct horse battery staple")
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.get_by_role("link", name="Membres")).to_have_count(2)
    await page.get_by_label("Langue").select_option("en")
    await page.get_by_role("button", name="Changer").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Welcome, {live_console.users.support}"
    )
    await context.close()
