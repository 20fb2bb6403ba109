""" "Send a test": a template rendered for a chosen member, sent to an address the marketer
types, through the installation's real email channel (SMTP, or the outbox when no SMTP host is
set). The ledger keeps it as a message marked `is_test` (left out of reports, frequency caps
and the member's timeline), and the audit log says who sent it where."""

import asyncio
import re
import uuid
from dataclasses import dataclass

from loyalflow.activities.channels import SendError
from loyalflow.activities.channels.mime import OutgoingEmail
from loyalflow.config import Settings
from loyalflow.console.audit import audit
from loyalflow.models.column_types import utcnow
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Message, MessageStatus
from loyalflow.runtime.worker import email_channel
from loyalflow.support.template_preview import render_preview

TEST_JOURNEY = "console-test"
TEST_SUBJECT_PREFIX = "[Test] "
# One address, nothing a header could be built from: no spaces, brackets, commas or newlines.
ADDRESS = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+$")


class BadTestAddress(ValueError):
    pass


class NoEmailPart(LookupError):
    pass


@dataclass(frozen=True)
class TestSend:
    message_id: str
    status: str  # sent | failed
    reason: str | None


def _ledger_row(
    url: str, message_id: str, member_id: str, template: str, locale: str, subject: str, by: str
) -> None:
    with session_scope(url) as session:
        session.add(
            Message(
                message_id=message_id,
                member_id=member_id,
                journey_id=TEST_JOURNEY,
                workflow_id=f"{TEST_JOURNEY}/{message_id}",
                step_id="test",
                channel="email",
                template=template,
                locale=locale,
                status=MessageStatus.SENDING,
                subject=subject[:500],
                reason=f"test send by {by}"[:500],
                handed_at=utcnow(),
                is_test=True,
            )
        )


def _outcome(url: str, message_id: str, provider_id: str | None, failure: str | None) -> None:
    with session_scope(url) as session:
        row = session.get(Message, message_id)
        assert row is not None
        now = utcnow()
        row.updated_at = now
        if failure is None:
            row.status = MessageStatus.SENT
            row.sent_at = now
            row.provider_id = (provider_id or "")[:255] or None
        else:
            row.status = MessageStatus.FAILED
            row.reason = failure[:500]


def valid_address(address: str) -> str:
    address = address.strip()
    if len(address) > 320 or not ADDRESS.match(address):
        raise BadTestAddress(address)
    return address


async def send_test(
    settings: Settings,
    template: str,
    member_id: str,
    locale: str | None,
    to: str,
    by: str,
    ip: str | None = None,
) -> TestSend:
    """Renders `template` for the member (UnknownTemplate, UnknownMember as for a preview;
    NoEmailPart for an SMS-only template) and sends it to `to` (BadTestAddress)."""
    to = valid_address(to)
    preview = await asyncio.to_thread(render_preview, settings, template, member_id, locale)
    if preview.email is None:
        raise NoEmailPart(template)
    email = preview.email
    url = settings.effective_database_url
    message_id = uuid.uuid4().hex
    subject = TEST_SUBJECT_PREFIX + email.subject
    await asyncio.to_thread(
        _ledger_row, url, message_id, member_id, template, email.locale, subject, by
    )
    channel = email_channel(settings)
    provider_id: str | None = None
    failure: str | None = None
    try:
        provider_id = await channel.send(
            OutgoingEmail(
                message_id=message_id,
                sender=settings.email_from,
                recipient=to,
                subject=subject,
                text=email.text,
                html=email.html,
            )
        )
    except SendError as error:
        failure = str(error) or type(error).__name__
    finally:
        close = getattr(channel, "aclose", None)
        if close is not None:
            await close()
    await asyncio.to_thread(_outcome, url, message_id, provider_id, failure)
    status = "sent" if failure is None else "failed"
    await asyncio.to_thread(
        audit,
        url,
        by,
        "template.test_send",
        f"template:{template}",
        ip,
        member_id=member_id,
        locale=email.locale,
        to=to,
        message_id=message_id,
        status=status,
    )
    return TestSend(message_id, status, failure)
