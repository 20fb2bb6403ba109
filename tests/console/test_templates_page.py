"""Marketers preview templates and send tests, in the browser against the live API and a real
SMTP server (aiosmtpd): the member's name is shown as text (never markup) in the page and in the
sandboxed email frame; the test arrives, marked `[Test]`, and the ledger marks it as a test,
which reports, frequency caps and the member's timeline leave out."""

import uuid
from datetime import UTC, datetime

import pytest
from playwright.async_api import BrowserContext, expect
from sqlmodel import select

from loyalflow.activities.decision import decide
from loyalflow.analytics.engagement import engagement_report
from loyalflow.config import Settings
from loyalflow.console.test_sends import TEST_JOURNEY, BadTestAddress, send_test
from loyalflow.models.console_tables import AuditEntry
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Message
from loyalflow.rules.messaging import policy_from
from loyalflow.support.template_preview import render_preview
from loyalflow.support.timeline import member_timeline
from tests.activities.test_send_decision import request
from tests.conftest import unique_member_id
from tests.console.conftest import LiveConsole, sign_in
from tests.journey_helpers import create_member, zone_where_it_will_be
from tests.smtp_server import SmtpServer

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def console_extra_env(smtp_server: SmtpServer) -> dict[str, str]:
    """The live console's API sends through the test SMTP server."""
    return {
        "LOYALFLOW_SMTP_HOST": "127.0.0.1",
        "LOYALFLOW_SMTP_PORT": str(smtp_server.port),
        "LOYALFLOW_SMTP_STARTTLS": "false",
    }


def ledger_rows(settings: Settings, member_id: str) -> list[Message]:
    with session_scope(settings.effective_database_url) as session:
        return list(session.exec(select(Message).where(Message.member_id == member_id)))


async def test_a_marketer_previews_for_a_member_and_sends_a_test_that_arrives(
    live_console: LiveConsole, context: BrowserContext, smtp_server: SmtpServer
) -> None:
    settings, marketer = live_console.settings, live_console.users.marketer
    member = unique_member_id("T")
    create_member(
        settings,
        member,
        email=f"{member.lower()}@example.com",
        first_name=HOSTILE,
    )
    page = await context.new_page()
    await sign_in(page, live_console, marketer)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Templates").click()
    await page.get_by_label("Template", exact=True).select_option("welcome")
    await page.get_by_label("Member id (empty: sample data)").fill(member)
    await page.get_by_label("Locale").select_option("fr")
    await page.get_by_role("button", name="Preview").click()

    await expect(page.locator("#email-subject")).to_have_text(
        f"Bienvenue chez Loyalty Program, {HOSTILE} !"
    )
    await expect(page.locator("#email-text")).to_contain_text(f"Bonjour {HOSTILE}")
    assert await page.locator("main script").count() == 0
    frame_element = page.locator("iframe.email-preview")
    assert await frame_element.get_attribute("sandbox") == ""
    frame = await (await frame_element.element_handle()).content_frame()
    assert frame is not None
    await expect(frame.locator("body")).to_contain_text(f"Bonjour {HOSTILE}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in await frame.content()
    assert await frame.locator("script").count() == 0
    # The frame's document has its own policy: no script, framed by the console alone.
    src = await frame_element.get_attribute("src")
    assert src is not None and src.startswith("/console/templates/preview.html?")
    framed = await page.request.get(live_console.url.removesuffix("/console") + src)
    policy = framed.headers["content-security-policy"]
    assert "sandbox" in policy and "script-src" not in policy and "default-src 'none'" in policy
    assert framed.headers["x-frame-options"] == "SAMEORIGIN"

    recipient = f"qa-{uuid.uuid4().hex[:6]}@example.org"
    await page.get_by_label("To address").fill(recipient)
    await page.get_by_role("button", name="Send the test").click()
    await expect(page.get_by_role("status")).to_contain_text("The test was sent.")

    [arrived] = smtp_server.messages
    assert arrived["To"] == recipient
    assert str(arrived["Subject"]).startswith("[Test] Bienvenue chez")
    [row] = ledger_rows(settings, member)
    assert row.is_test and row.status == "sent" and row.journey_id == TEST_JOURNEY
    assert row.template == "welcome" and row.locale == "fr"
    with session_scope(settings.effective_database_url) as session:
        audit = session.exec(
            select(AuditEntry).where(
                AuditEntry.target == "template:welcome", AuditEntry.actor == marketer
            )
        ).one()
    assert audit.action == "template.test_send"
    assert audit.details["to"] == recipient and audit.details["status"] == "sent"


async def test_support_cannot_open_templates_nor_send_tests(
    live_console: LiveConsole, context: BrowserContext, smtp_server: SmtpServer
) -> None:
    page = await context.new_page()
    await sign_in(page, live_console, live_console.users.support)
    response = await page.goto(f"{live_console.url}/templates?template=welcome")
    assert response is not None and response.status == 403
    await page.goto(f"{live_console.url}/")
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    posted = await page.request.post(
        f"{live_console.url}/templates/test",
        form={"csrf_token": token or "", "template": "welcome", "member": "x", "to": "a@b.example"},
    )
    assert posted.status == 403
    assert smtp_server.messages == []


async def test_a_test_send_is_left_out_of_reports_caps_and_the_timeline(
    settings: Settings, smtp_server: SmtpServer, member_id: str
) -> None:
    # Noon where the member lives: quiet hours never decide the cap check below.
    zone = zone_where_it_will_be(12, datetime.now(UTC))
    create_member(settings, member_id, email="a@example.com", first_name="Ada", timezone=zone)
    smtp = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port, "smtp_starttls": False}
    )
    with pytest.raises(BadTestAddress):
        await send_test(smtp, "welcome", member_id, None, "not an address", "ann")
    sent = await send_test(smtp, "welcome", member_id, "en", "qa@example.org", "ann")
    assert sent.status == "sent"
    assert [m["To"] for m in smtp_server.messages] == ["qa@example.org"]
    url = settings.effective_database_url
    [row] = ledger_rows(settings, member_id)
    assert row.is_test and row.message_id == sent.message_id
    assert [r for r in engagement_report(url) if r.journey_id == TEST_JOURNEY] == []
    # Two more fill what the email cap (3 a week) would allow: the member may still be sent one.
    for _ in range(2):
        await send_test(smtp, "welcome", member_id, "en", "qa@example.org", "ann")
    now = datetime.now(UTC)
    policy = policy_from(settings.messaging_policy_file)
    assert decide(url, request(member_id, due=now), policy, now).action == "send"
    timeline = await member_timeline(settings, member_id)
    assert timeline is not None
    assert [e for e in timeline.entries if e.message_id == sent.message_id] == []


def test_the_preview_escapes_the_members_name_in_the_email_html(
    settings: Settings, member_id: str
) -> None:
    create_member(settings, member_id, first_name=HOSTILE)
    preview = render_preview(settings, "welcome", member_id, "en")
    assert preview.email is not None
    assert HOSTILE not in preview.email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in preview.email.html
    assert f"Hello {HOSTILE}," in preview.email.text  # plain text: shown as text by its reader
    sms = render_preview(settings, "welcome_reminder", member_id, "fr").sms
    assert sms is not None and sms.encoding in ("GSM-7", "UCS-2") and sms.segments >= 1
