"""The SMTP channel against real aiosmtpd servers on 127.0.0.1: TLS, AUTH, pooling, headers.

Delivery to `starttls_server` proves STARTTLS and AUTH happened: that server refuses AUTH before
STARTTLS and MAIL before AUTH.
"""

import asyncio
import re
import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
import trustme

from loyalflow.activities.channels import PermanentSendError, TransientSendError
from loyalflow.activities.channels.email import SmtpEmailChannel
from loyalflow.activities.channels.errors import AmbiguousSendError
from loyalflow.activities.channels.mime import OutgoingEmail, inline_css
from loyalflow.activities.rendering import TemplateRenderer
from loyalflow.config import PACKAGE_DIR
from tests.smtp_server import SMTP_PASSWORD, SMTP_USER, SmtpServer

FRENCH_SUBJECT = "Bienvenue chez Club Lumière, Zoé ! Votre cadeau d'anniversaire vous attend"
EMOJI_SUBJECT = "🎉 Votre cadeau d'anniversaire vous attend, Zoé — profitez-en vite ✨🎁"
UNSUBSCRIBE_URL = "https://club.example.com/unsubscribe/" + "t0k3n" * 30  # longer than a line
HTML = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8">
<style>
p { color: #3b2e7e; margin: 4px; }
.cta { font-weight: bold; }
@media (max-width: 600px) { p { font-size: 18px; } }
</style></head>
<body style="margin:0;">
<p class="cta" style="margin:0 0 16px;">Bonjour Zoé,</p>
<p>Votre solde : 120 points.</p>
</body></html>"""

ChannelFactory = Callable[..., SmtpEmailChannel]


@pytest.fixture
async def channel_for(smtp_client_tls: ssl.SSLContext) -> AsyncIterator[ChannelFactory]:
    """Builds channels for a server (STARTTLS + AUTH by default) and closes them afterwards."""
    made: list[SmtpEmailChannel] = []

    def make(server: SmtpServer, **overrides: Any) -> SmtpEmailChannel:
        options: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": server.port,
            "username": SMTP_USER,
            "password": SMTP_PASSWORD,
            "start_tls": True,
            "timeout": 5,
            "tls_context": smtp_client_tls,
        }
        options.update(overrides)
        channel = SmtpEmailChannel(**options)
        made.append(channel)
        return channel

    yield make
    for channel in made:
        await channel.aclose()


def email(n: int = 0, **overrides: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "message_id": str(uuid.uuid4()),
        "sender": "Club Lumière <club@example.com>",
        "recipient": f"Zoé Martin <zoe{n}@example.com>",
        "subject": FRENCH_SUBJECT,
        "text": "Bonjour Zoé,\n\nVotre solde : 120 points.\n",
        "html": HTML,
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)


def html_of(mail: EmailMessage) -> str:
    part = mail.get_body(("html",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def raw_header_lines(raw: bytes, name: str) -> list[str]:
    """The header's physical lines as sent (the first one and its continuations)."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    lines = head.split("\r\n")
    start = next(i for i, line in enumerate(lines) if line.lower().startswith(name.lower() + ":"))
    end = start + 1
    while end < len(lines) and lines[end][:1] in (" ", "\t"):
        end += 1
    return lines[start:end]


# --- TLS and AUTH ---------------------------------------------------------------------------


async def test_starttls_and_auth_deliver_a_multipart_message_with_its_headers(
    starttls_server: SmtpServer, channel_for: ChannelFactory
) -> None:
    outgoing = email(
        subject=EMOJI_SUBJECT,
        list_unsubscribe_url=UNSUBSCRIBE_URL,
        list_unsubscribe_mailto="unsubscribe@club.example.com",
    )

    provider_id = await channel_for(starttls_server).send(outgoing)

    [mail] = starttls_server.messages
    assert provider_id.startswith(f"<{outgoing.message_id}@example.com> ")
    assert mail["Message-ID"] == f"<{outgoing.message_id}@example.com>"
    assert mail["Subject"] == EMOJI_SUBJECT
    assert mail["From"].addresses[0].display_name == "Club Lumière"
    assert mail["To"].addresses[0].addr_spec == "zoe0@example.com"
    assert mail["List-Unsubscribe"] == (
        f"<{UNSUBSCRIBE_URL}>, <mailto:unsubscribe@club.example.com?subject=unsubscribe>"
    )
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",))
    assert isinstance(text, EmailMessage) and "Votre solde : 120 points." in text.get_content()
    assert 'style="color: #3b2e7e;' in html_of(mail)
    assert starttls_server.connections == 1


async def test_implicit_tls_delivers(
    implicit_tls_server: SmtpServer, channel_for: ChannelFactory
) -> None:
    channel = channel_for(implicit_tls_server, start_tls=False, use_tls=True)

    await channel.send(email())

    [mail] = implicit_tls_server.messages
    assert mail["Subject"] == FRENCH_SUBJECT


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
async def test_an_untrusted_certificate_is_a_clear_transient_error(
    mode: str,
    starttls_server: SmtpServer,
    implicit_tls_server: SmtpServer,
    channel_for: ChannelFactory,
) -> None:
    server = starttls_server if mode == "starttls" else implicit_tls_server
    # The production default: the system's CAs, which do not include the test CA.
    channel = channel_for(
        server,
        start_tls=mode == "starttls",
        use_tls=mode == "implicit",
        tls_context=ssl.create_default_context(),
    )

    with pytest.raises(TransientSendError, match="TLS certificate not trusted") as caught:
        await channel.send(email())

    assert "unable to get local issuer certificate" in str(caught.value)
    assert server.messages == []


async def test_a_bad_password_fails_loudly_naming_the_settings(
    starttls_server: SmtpServer, channel_for: ChannelFactory
) -> None:
    channel = channel_for(starttls_server, password="not-the-password")

    with pytest.raises(TransientSendError) as caught:
        await channel.send(email())

    message = str(caught.value)
    assert "rejected the credentials for 'loyalflow'" in message
    assert "LOYALFLOW_SMTP_USERNAME" in message and "LOYALFLOW_SMTP_PASSWORD" in message
    assert "not-the-password" not in message
    assert starttls_server.messages == []


def test_starttls_and_implicit_tls_are_mutually_exclusive() -> None:
    with pytest.raises(ValueError, match="mutually exclusive"):
        SmtpEmailChannel(
            host="127.0.0.1",
            port=465,
            username=None,
            password=None,
            start_tls=True,
            use_tls=True,
            timeout=5,
        )


# --- replies ----------------------------------------------------------------------------------


async def test_a_451_is_transient_and_the_retry_delivers_once(
    starttls_server: SmtpServer, channel_for: ChannelFactory
) -> None:
    """What the send activity relies on: a TransientSendError means the server did not take the
    message, so the activity marks it deferred and Temporal's retry sends it again."""
    channel = channel_for(starttls_server)
    outgoing = email()
    starttls_server.refuse_next("451 4.3.0 Try again later")

    with pytest.raises(TransientSendError, match="451"):
        await channel.send(outgoing)
    await channel.send(outgoing)  # the activity's retry

    [mail] = starttls_server.messages
    assert mail["Message-ID"] == outgoing.message_id_header
    assert starttls_server.connections == 1  # the refusal did not cost the connection


async def test_a_550_is_permanent_and_the_connection_stays_usable(
    starttls_server: SmtpServer, channel_for: ChannelFactory
) -> None:
    channel = channel_for(starttls_server)
    starttls_server.refuse_next("550 5.1.1 No such user")

    with pytest.raises(PermanentSendError, match=r"SMTP 550: 5\.1\.1 No such user") as caught:
        await channel.send(email(1))
    await channel.send(email(2))

    assert caught.value.code == 550
    assert [m["To"].addresses[0].addr_spec for m in starttls_server.messages] == [
        "zoe2@example.com"
    ]
    assert starttls_server.connections == 1


async def test_a_refused_recipient_is_classified_by_its_code(
    starttls_server: SmtpServer, channel_for: ChannelFactory
) -> None:
    channel = channel_for(starttls_server)
    starttls_server.refuse_next_recipient("550 5.1.1 Unknown user", "452 4.2.2 Mailbox full")

    with pytest.raises(PermanentSendError, match="recipient refused: 550") as refused:
        await channel.send(email(1))
    with pytest.raises(TransientSendError, match="recipient deferred: 452"):
        await channel.send(email(2))
    await channel.send(email(3))  # RSET after each refusal: the connection carries on

    assert refused.value.code == 550
    assert len(starttls_server.messages) == 1 and starttls_server.connections == 1


async def test_only_a_refusal_of_the_address_carries_the_code_that_suppresses_it(
    starttls_server: SmtpServer, channel_for: ChannelFactory
) -> None:
    """The send activity suppresses an address on 550/551/553: not when the content is refused."""
    starttls_server.refuse_next("550 5.7.1 Message rejected as spam")

    with pytest.raises(PermanentSendError, match="spam") as caught:
        await channel_for(starttls_server).send(email())

    assert caught.value.code is None


async def test_an_invalid_recipient_is_permanent_without_touching_the_server(
    starttls_server: SmtpServer, channel_for: ChannelFactory
) -> None:
    with pytest.raises(PermanentSendError, match="not an email address"):
        await channel_for(starttls_server).send(email(recipient="nobody"))
    assert starttls_server.connections == 0


# --- the pool ---------------------------------------------------------------------------------


async def test_sends_share_at_most_pool_size_connections(
    starttls_server: SmtpServer, channel_for: ChannelFactory
) -> None:
    channel = channel_for(starttls_server, pool_size=3)
    concurrent = [email(n) for n in range(20)]
    one_by_one = [email(n) for n in range(20, 25)]

    await asyncio.gather(*(channel.send(e) for e in concurrent))
    for outgoing in one_by_one:  # reuses the pooled connections, opens none
        await channel.send(outgoing)

    sent = sorted(e.message_id_header for e in concurrent + one_by_one)
    assert sorted(m["Message-ID"] for m in starttls_server.messages) == sent  # each exactly once
    assert 1 <= starttls_server.connections <= 3
    assert len(set(starttls_server.handler.peers)) == starttls_server.connections


async def test_a_connection_the_server_timed_out_is_replaced_transparently(
    smtp_ca: trustme.CA, channel_for: ChannelFactory
) -> None:
    server = SmtpServer(
        tls="starttls", ca=smtp_ca, credentials=(SMTP_USER, SMTP_PASSWORD), idle_timeout=0.3
    )
    server.start()
    try:
        channel = channel_for(server)
        await channel.send(email(1))
        for _ in range(200):  # until the server has closed the idle connection (0.3 s)
            if server.disconnections:
                break
            await asyncio.sleep(0.05)

        await channel.send(email(2))

        assert [m["To"].addresses[0].addr_spec for m in server.messages] == [
            "zoe1@example.com",
            "zoe2@example.com",
        ]
        assert server.connections == 2
    finally:
        server.stop()


@pytest.mark.parametrize("reply", ["421 4.4.2 Idle timeout, closing", None])
async def test_a_pooled_connection_dying_before_data_is_retried_once_on_a_new_one(
    reply: str | None, starttls_server: SmtpServer, channel_for: ChannelFactory
) -> None:
    """The client had not noticed the close yet: its MAIL meets a 421 or a closed socket."""
    channel = channel_for(starttls_server)
    await channel.send(email(1))
    starttls_server.hang_up_at_next_mail(reply)

    await channel.send(email(2))

    assert [m["To"].addresses[0].addr_spec for m in starttls_server.messages] == [
        "zoe1@example.com",
        "zoe2@example.com",
    ]
    assert starttls_server.connections == 2


async def test_a_new_connection_failing_is_not_retried_at_once(
    starttls_server: SmtpServer, channel_for: ChannelFactory
) -> None:
    """Only a pooled (possibly stale) connection gets an immediate second try; Temporal's backoff
    handles a server that is really in trouble."""
    starttls_server.hang_up_at_next_mail()

    with pytest.raises(TransientSendError, match="421"):
        await channel_for(starttls_server).send(email())

    assert starttls_server.messages == [] and starttls_server.connections == 1


async def test_a_connection_lost_after_the_content_is_ambiguous_and_never_resent(
    starttls_server: SmtpServer, channel_for: ChannelFactory
) -> None:
    channel = channel_for(starttls_server)
    await channel.send(email(1))  # pooled: a retry would be possible if it were safe
    starttls_server.drop_after_next_data()

    with pytest.raises(AmbiguousSendError, match="may have accepted"):
        await channel.send(email(2))

    # The server did take it: sending again would have delivered it twice.
    assert len(starttls_server.messages) == 2
    assert starttls_server.connections == 1


async def test_no_final_reply_in_time_is_ambiguous(
    starttls_server: SmtpServer, channel_for: ChannelFactory
) -> None:
    channel = channel_for(starttls_server, timeout=1.0)
    starttls_server.delay_next_data(2.5)

    with pytest.raises(AmbiguousSendError, match="no final reply"):
        await channel.send(email())

    assert len(starttls_server.messages) == 1  # taken, only the reply was late


async def test_aclose_closes_the_pool_and_the_channel_can_still_send(
    starttls_server: SmtpServer, channel_for: ChannelFactory
) -> None:
    channel = channel_for(starttls_server)
    await channel.send(email(1))

    await channel.aclose()
    await channel.send(email(2))

    assert len(starttls_server.messages) == 2
    assert starttls_server.connections == 2


# --- the message itself -------------------------------------------------------------------


def test_list_unsubscribe_headers_are_well_formed_on_the_wire() -> None:
    outgoing = email(
        list_unsubscribe_url=UNSUBSCRIBE_URL, list_unsubscribe_mailto="unsubscribe@example.com"
    )
    raw = outgoing.to_bytes()

    lines = raw_header_lines(raw, "List-Unsubscribe")
    # Never encoded, never broken inside a URL: one URL per line, folded after the comma.
    assert lines == [
        f"List-Unsubscribe: <{UNSUBSCRIBE_URL}>,",
        " <mailto:unsubscribe@example.com?subject=unsubscribe>",
    ]
    assert raw_header_lines(raw, "List-Unsubscribe-Post") == [
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    ]


def test_list_unsubscribe_variants() -> None:
    only_url = email(list_unsubscribe_url="https://club.example.com/u/abc").to_mime()
    assert only_url["List-Unsubscribe"] == "<https://club.example.com/u/abc>"
    assert only_url["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    only_mailto = email(list_unsubscribe_mailto="mailto:stop@example.com?subject=stop").to_mime()
    assert only_mailto["List-Unsubscribe"] == "<mailto:stop@example.com?subject=stop>"
    assert only_mailto["List-Unsubscribe-Post"] is None  # one-click needs an http(s) URL

    neither = email().to_mime()
    assert neither["List-Unsubscribe"] is None and neither["List-Unsubscribe-Post"] is None

    for bad in ("javascript:alert(1)", "https://x.example/a b", "https://x.example/<a>"):
        with pytest.raises(ValueError):
            email(list_unsubscribe_url=bad)


@pytest.mark.parametrize("subject", [FRENCH_SUBJECT, EMOJI_SUBJECT, "Court", "é" * 120])
def test_utf8_subjects_are_rfc2047_encoded_and_round_trip(subject: str) -> None:
    raw = email(subject=subject).to_bytes()

    lines = raw_header_lines(raw, "Subject")
    assert all(len(line) <= 76 for line in lines)  # RFC 2047 2, lines with encoded words
    if not subject.isascii():
        encoded = " ".join(line.removeprefix("Subject:").strip() for line in lines)
        assert re.fullmatch(r"(=\?utf-8\?[bq]\?[^? ]*\?= ?)+", encoded, re.IGNORECASE)
    assert message_from_bytes(raw, policy=policy.default)["Subject"] == subject


def test_the_message_is_7bit_clean() -> None:
    raw = email(subject=EMOJI_SUBJECT, html=HTML + "x" * 2000).to_bytes()
    assert raw.isascii()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


def test_style_blocks_are_inlined_and_inline_styles_win() -> None:
    html = inline_css(HTML)

    # The element's own style wins over the block's (margin), the block adds the rest.
    assert '<p class="cta" style="color: #3b2e7e;font-weight: bold;margin: 0 0 16px">' in html
    assert '<p style="color: #3b2e7e;margin: 4px;">Votre solde' in html
    # What cannot be inlined stays, for the clients that read <style>.
    assert "@media (max-width: 600px)" in html
    assert ".cta {" not in html


def test_html_without_a_style_block_is_left_exactly_as_written() -> None:
    member = {"first_name": "Zoé", "points": 0, "joined_at": None}
    rendered = TemplateRenderer(PACKAGE_DIR / "templates", "Club").render_email(
        "welcome", "fr", member, "Europe/Paris"
    )
    assert inline_css(rendered.html) == rendered.html


def test_remote_stylesheets_are_never_fetched() -> None:
    html = (
        '<html><head><link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
        "<style>p{color:red}</style></head><body><p>hi</p></body></html>"
    )
    inlined = inline_css(html)  # would fail (connection refused) if it tried
    assert '<p style="color: red;">hi</p>' in inlined and "x.css" not in inlined
