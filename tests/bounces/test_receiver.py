"""Bounce and complaint reports sent over SMTP to the real receiver (issue 16)."""

import asyncio
import smtplib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import aiosmtplib
import pytest
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from loyalflow.bounces.effects import reports_for
from loyalflow.bounces.receiver import receiver
from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.config import Settings
from loyalflow.members.ingest import store_events, upsert_member
from loyalflow.models.api import EventIn, MemberIn
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Consent, Event, Message, Suppression
from loyalflow.models.tracking_tables import BounceReport
from loyalflow.rules.loyalty import rules_from
from tests.bounces import samples
from tests.conftest import free_port


@pytest.fixture
def bounce_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"bounce_port": free_port(), "bounce_domain": "bounces.example.com"}
    )


@pytest.fixture
def running_receiver(
    bounce_settings: Settings, dev_server_env: WorkflowEnvironment
) -> Iterator[None]:
    controller = receiver(dev_server_env.client, bounce_settings)
    controller.start()
    yield
    controller.stop()


def _member_with_message(settings: Settings, member_id: str) -> tuple[str, str]:
    url = settings.effective_database_url
    address = f"{member_id.lower()}@example.org"
    upsert_member(url, member_id, MemberIn.model_validate({"email": address}))
    store_events(
        url,
        [
            EventIn(
                event_id=f"consent-{member_id}",
                member_id=member_id,
                type="consent.updated",
                occurred_at=datetime.now(UTC),
                properties={"channel": "email", "topic": "offers", "status": "granted"},
            )
        ],
        rules_from(settings.loyalty_rules_file),
        BUILT_IN_ONLY,
    )
    message_id = str(uuid.uuid4())
    with session_scope(url) as session:
        session.add(
            Message(
                message_id=message_id,
                member_id=member_id,
                journey_id="welcome",
                workflow_id=f"wf-{member_id}",
                step_id="welcome_email",
                channel="email",
                template="welcome",
                topic="onboarding",
                status="sent",
                sent_at=datetime.now(UTC),
            )
        )
    return message_id, address


async def _send(settings: Settings, text: str, message_id: str | None) -> None:
    recipient = (
        f"bounces+{message_id}@bounces.example.com" if message_id else "bounces@bounces.example.com"
    )
    # Bounces come from the null sender (MAIL FROM:<>), as RFC 3464 requires.
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=settings.bounce_port) as smtp:
        await smtp.sendmail("", [recipient], text.encode("utf-8", errors="surrogateescape"))


def _ledger(settings: Settings, message_id: str) -> Message:
    with session_scope(settings.effective_database_url) as session:
        row = session.get(Message, message_id)
        assert row is not None
        return row


def _suppressed(settings: Settings, address: str) -> bool:
    with session_scope(settings.effective_database_url) as session:
        return session.get(Suppression, (address, "email")) is not None


def _event_types(settings: Settings, member_id: str) -> list[str]:
    with session_scope(settings.effective_database_url) as session:
        rows = session.exec(select(Event.type).where(Event.member_id == member_id))
        return sorted(t for t in rows if t.startswith("email."))


@pytest.mark.parametrize("sample", ["rfc3464", "gmail", "outlook"])
async def test_a_permanent_failure_bounces_the_message_and_suppresses_the_address(
    bounce_settings: Settings, running_receiver: None, member_id: str, sample: str
) -> None:
    message_id, address = _member_with_message(bounce_settings, member_id)
    if sample == "rfc3464":
        await _send(bounce_settings, samples.rfc3464_failed(address, message_id), message_id)
    elif sample == "gmail":  # no VERP: found by the returned Message-ID
        await _send(bounce_settings, samples.gmail_dsn(address, message_id), None)
    else:
        await _send(bounce_settings, samples.outlook_dsn(address), message_id)
    row = _ledger(bounce_settings, message_id)
    assert row.status == "bounced" and row.bounced_at is not None
    assert _suppressed(bounce_settings, address)
    assert _event_types(bounce_settings, member_id) == ["email.bounced"]
    [report] = reports_for(bounce_settings.effective_database_url, message_id)
    assert report.kind == "permanent" and report.status and report.status.startswith("5.")
    # The same report again: no second event.
    await _send(bounce_settings, samples.outlook_dsn(address), message_id)
    assert _event_types(bounce_settings, member_id) == ["email.bounced"]


async def test_a_temporary_failure_is_counted_only(
    bounce_settings: Settings, running_receiver: None, member_id: str
) -> None:
    message_id, address = _member_with_message(bounce_settings, member_id)
    await _send(bounce_settings, samples.rfc3464_delayed(address), message_id)
    await _send(bounce_settings, samples.rfc3464_delayed(address), message_id)
    assert _ledger(bounce_settings, message_id).status == "sent"
    assert not _suppressed(bounce_settings, address)
    reports = reports_for(bounce_settings.effective_database_url, message_id)
    assert [r.kind for r in reports] == ["temporary", "temporary"]
    assert _event_types(bounce_settings, member_id) == []


async def test_a_complaint_revokes_every_non_transactional_email_consent(
    bounce_settings: Settings, running_receiver: None, member_id: str
) -> None:
    message_id, address = _member_with_message(bounce_settings, member_id)
    await _send(bounce_settings, samples.rfc5965_complaint(address, message_id), message_id)
    with session_scope(bounce_settings.effective_database_url) as session:
        consents = {
            c.topic: (c.status, c.source)
            for c in session.exec(select(Consent).where(Consent.member_id == member_id))
        }
    assert consents == {
        "loyalty": ("revoked", "complaint"),
        "offers": ("revoked", "complaint"),
        "onboarding": ("revoked", "complaint"),
    }  # `service` (transactional) untouched
    assert _event_types(bounce_settings, member_id) == ["email.complained"]
    assert _ledger(bounce_settings, message_id).status == "sent"


async def test_malformed_mail_is_kept_and_the_receiver_keeps_working(
    bounce_settings: Settings, running_receiver: None, member_id: str
) -> None:
    message_id, address = _member_with_message(bounce_settings, member_id)
    await _send(bounce_settings, samples.NOT_A_REPORT, message_id)
    await _send(bounce_settings, samples.BROKEN_REPORT, message_id)
    await _send(bounce_settings, "\x00\xff garbage without headers", None)
    with session_scope(bounce_settings.effective_database_url) as session:
        kept = list(session.exec(select(BounceReport).where(BounceReport.message_id == message_id)))
    assert [r.kind for r in kept] == ["malformed", "malformed"]
    assert all(r.raw for r in kept)
    assert "Out of office" in (kept[0].raw or "")
    # Still answering: a real bounce afterwards is applied.
    await _send(bounce_settings, samples.rfc3464_failed(address, message_id), message_id)
    assert _ledger(bounce_settings, message_id).status == "bounced"


async def test_the_receiver_speaks_lmtp_when_asked(
    bounce_settings: Settings, dev_server_env: WorkflowEnvironment, member_id: str
) -> None:
    lmtp_settings = bounce_settings.model_copy(update={"bounce_lmtp": True})
    message_id, address = _member_with_message(lmtp_settings, member_id)
    controller = receiver(dev_server_env.client, lmtp_settings)
    controller.start()
    try:

        def deliver() -> dict[str, tuple[int, bytes]]:
            with smtplib.LMTP("127.0.0.1", lmtp_settings.bounce_port) as lmtp:
                return lmtp.sendmail(
                    "",
                    [f"bounces+{message_id}@bounces.example.com"],
                    samples.rfc3464_failed(address, message_id),
                )

        assert await asyncio.to_thread(deliver) == {}
    finally:
        controller.stop()
    assert _ledger(lmtp_settings, message_id).status == "bounced"
