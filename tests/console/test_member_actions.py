"""Support staff at work in a real browser, against the live API and a real Temporal worker:
find a member, re-send their failed message, exit their run, record a consent for them; every
action in the audit log with the signed-in user. A form without its CSRF token changes nothing."""

import httpx
from playwright.async_api import BrowserContext, expect
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from loyalflow.models.console_tables import AuditEntry
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Consent, SupportAction
from tests.conftest import unique_member_id
from tests.console.conftest import LiveConsole, sign_in
from tests.journey_helpers import (
    create_member,
    enrollment,
    messages,
    send_event,
    wait_for_timer,
)
from tests.smtp_server import SmtpServer


def audit_rows(console: LiveConsole, member_id: str) -> list[AuditEntry]:
    with session_scope(console.settings.effective_database_url) as session:
        return list(
            session.exec(
                select(AuditEntry)
                .where(AuditEntry.target == f"member:{member_id}")
                .order_by(col(AuditEntry.id))
            )
        )


def consents(console: LiveConsole, member_id: str) -> list[Consent]:
    with session_scope(console.settings.effective_database_url) as session:
        return list(session.exec(select(Consent).where(Consent.member_id == member_id)))


async def test_support_resends_a_failed_message_then_exits_the_run(
    live_console: LiveConsole,
    context: BrowserContext,
    dev_server_env: WorkflowEnvironment,
    worker: Worker,
    smtp_server: SmtpServer,
) -> None:
    settings, support = live_console.settings, live_console.users.support
    member = unique_member_id("C")
    email = f"{member.lower()}@example.com"
    create_member(settings, member, email=email, first_name="Ada")
    smtp_server.refuse_next("554 5.7.1 Message rejected as spam")
    assert await send_event(dev_server_env.client, settings, member, "member.joined")
    workflow_id = f"journey-welcome-{member}"
    await wait_for_timer(dev_server_env.client, workflow_id)
    [failed] = [m for m in messages(settings, member) if m.status == "failed"]

    page = await context.new_page()
    await sign_in(page, live_console, support)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    await page.get_by_label("Member id, email or phone").fill(email.upper())
    await page.get_by_role("button", name="Find").click()
    await page.get_by_role("link", name=member).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Member {member}")
    await expect(page.locator("dd.email")).to_have_text(email)  # support sees the address

    await page.get_by_role("button", name="Retry the send").click()
    await expect(page.get_by_role("status")).to_have_text("The message was sent again.")
    assert [m.status for m in messages(settings, member)].count("sent") == 1
    assert len(smtp_server.messages) == 1

    # The reason is required: the browser will not submit without it, the server refuses too.
    await page.get_by_label("Reason").fill("asked to stop by phone")
    await page.get_by_role("button", name="Exit the run").click()
    await expect(page.get_by_role("status")).to_have_text("The run was exited.")
    run = enrollment(settings, workflow_id)
    assert run is not None and run.exited_at is not None
    assert "asked to stop by phone" in (run.exit_reason or "")

    rows = audit_rows(live_console, member)
    assert [(r.actor, r.action) for r in rows] == [
        (support, "message.retry"),
        (support, "run.exit"),
    ]
    assert rows[1].details == {"workflow_id": workflow_id, "reason": "asked to stop by phone"}
    assert rows[0].details["message_id"] == failed.message_id
    with session_scope(settings.effective_database_url) as session:
        actions = session.exec(
            select(SupportAction.action, SupportAction.by).where(SupportAction.member_id == member)
        ).all()
    assert sorted(actions) == [("exit", support), ("retry_send", support)]
    # The page shows what staff did, and the run as ended.
    await expect(page.locator("#staff ~ table")).to_contain_text("run.exit")
    await expect(page.get_by_role("button", name="Exit the run")).to_have_count(0)


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    live_console: LiveConsole, context: BrowserContext
) -> None:
    settings, support = live_console.settings, live_console.users.support
    member = unique_member_id("C")
    create_member(settings, member, email=f"{member.lower()}@example.com")
    page = await context.new_page()
    await sign_in(page, live_console, support)
    await page.goto(f"{live_console.url}/members/{member}")

    # In the browser: the consent form with its token taken out.
    await page.locator("#consent-form input[name=csrf_token]").evaluate("e => e.remove()")
    await page.get_by_label("Status").select_option("revoked")
    async with page.expect_response(lambda r: r.request.method == "POST") as posted:
        await page.get_by_role("button", name="Record on the member's behalf").click()
    assert (await posted.value).status == 403
    assert consents(live_console, member) == []

    # Over plain HTTP with the session cookie: no token, a wrong token, then the right one.
    cookies = {c["name"]: c["value"] for c in await context.cookies()}
    action = f"{live_console.url}/members/{member}/consent"
    fields = {"channel": "email", "topic": "onboarding", "status": "revoked"}
    async with httpx.AsyncClient(cookies=cookies) as client:
        assert (await client.post(action, data=fields)).status_code == 403
        forged = await client.post(action, data={**fields, "csrf_token": "forged"})
        assert forged.status_code == 403
        assert consents(live_console, member) == []
        await page.goto(f"{live_console.url}/members/{member}")
        token = await page.locator("#consent-form input[name=csrf_token]").get_attribute("value")
        assert token
        done = await client.post(
            action, data={**fields, "csrf_token": token}, follow_redirects=False
        )
        assert done.status_code == 303
    [consent] = consents(live_console, member)
    assert (consent.channel, consent.topic, consent.status) == ("email", "onboarding", "revoked")
    assert consent.source == f"support:{support}"
    assert [(r.actor, r.action) for r in audit_rows(live_console, member)] == [
        (support, "consent.change")
    ]
