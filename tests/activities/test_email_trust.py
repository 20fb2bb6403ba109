"""What receivers check before they trust a message: a Message-ID on a real domain, a well-formed
MIME structure, subjects folded as RFC 2047 says, and (when configured) a DKIM signature.

Messages go through the real SMTP channel to an aiosmtpd server; DKIM is verified with dkimpy,
whose DNS lookup is given the test key's TXT record (`dnsfunc`), as DNS would serve it.
"""

import base64
import quopri
import re
import uuid
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from loyalflow.activities.channels.dkim_signing import DkimSigner
from loyalflow.activities.channels.email import SmtpEmailChannel
from loyalflow.activities.channels.mime import OutgoingEmail
from loyalflow.activities.channels.outbox import OutboxEmailChannel
from loyalflow.config import Settings
from loyalflow.runtime.worker import dkim_signer
from tests.smtp_server import SmtpServer

SELECTOR = "mail2026"
LONG_SUBJECTS = [
    "Votre récompense vous attend, Zoé — profitez-en avant la fin du mois prochain 🎉 " * 2,
    "会員様限定のお知らせ ポイントが二倍になるキャンペーンを開催中です" * 3,
    "🎉🎁✨" * 20,
    "Ünïcödé" + "x" * 90 + " fin",  # one word longer than any line
    "An ASCII subject that reads like an encoded word =?utf-8?q?hi?= must stay literal",
    "plain ASCII subject, long enough to be folded at a space by the standard folder " * 2,
]


def email(**overrides: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "message_id": str(uuid.uuid4()),
        "sender": "Club Lumière <club@example.com>",
        "recipient": "Zoé Martin <zoe@example.com>",
        "subject": "Bienvenue, Zoé !",
        "text": "Bonjour Zoé,\n",
        "html": "<p>Bonjour Zoé,</p>",
        "list_unsubscribe_url": "https://club.example.com/u/abc",
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)


def channel(server: SmtpServer, **options: Any) -> SmtpEmailChannel:
    return SmtpEmailChannel(
        host="127.0.0.1", port=server.port, username=None, password=None, start_tls=False,
        timeout=5, **options,
    )  # fmt: skip


def header_block(raw: bytes, name: str) -> str:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    match = re.search(rf"^{name}:.*?(?=\r\n\S|\Z)", head, re.MULTILINE | re.DOTALL)
    assert match is not None
    return match.group(0)


# --- Message-ID -------------------------------------------------------------------------------


async def test_message_id_is_on_the_senders_domain_or_the_configured_one(
    smtp_server: SmtpServer,
) -> None:
    first, second = email(), email()
    default = channel(smtp_server)
    configured = channel(smtp_server, message_id_domain="mail.club.example")
    try:
        default_id = await default.send(first)
        configured_id = await configured.send(second)
    finally:
        await default.aclose()
        await configured.aclose()

    sent_first, sent_second = smtp_server.messages
    assert sent_first["Message-ID"] == f"<{first.message_id}@example.com>"
    assert sent_second["Message-ID"] == f"<{second.message_id}@mail.club.example>"
    assert default_id.startswith(f"<{first.message_id}@example.com> ")
    assert configured_id.startswith(f"<{second.message_id}@mail.club.example> ")
    for raw in smtp_server.raw_messages:
        # RFC 5322 3.6.4: msg-id = "<" dot-atom-text "@" dot-atom-text ">"
        value = header_block(raw, "Message-ID").removeprefix("Message-ID: ")
        assert re.fullmatch(r"<[A-Za-z0-9-]+@[a-z0-9-]+(\.[a-z0-9-]+)+>", value)


def test_an_internationalised_sender_domain_gives_an_ascii_message_id() -> None:
    outgoing = email(sender="Club <club@bücher.example>")
    assert outgoing.message_id_header == f"<{outgoing.message_id}@xn--bcher-kva.example>"


def test_the_outbox_uses_the_configured_domain_too(tmp_path: Path) -> None:
    outbox = OutboxEmailChannel(tmp_path, message_id_domain="mail.club.example")
    outgoing = email()
    name = outbox._write(outgoing)
    written = message_from_bytes((tmp_path / name).read_bytes(), policy=policy.default)
    assert written["Message-ID"] == f"<{outgoing.message_id}@mail.club.example>"


@pytest.mark.parametrize("bad", ["loyalflow", "exa mple.com", "-bad.example", "a@b.example"])
def test_a_message_id_domain_that_is_not_a_domain_stops_at_start(bad: str) -> None:
    with pytest.raises(ValidationError, match="message_id_domain"):
        Settings(message_id_domain=bad)


# --- MIME structure and subjects --------------------------------------------------------------


def test_mime_version_appears_once_in_the_message_header_only() -> None:
    raw = email().to_bytes()
    assert raw.count(b"MIME-Version:") == 1
    parsed = message_from_bytes(raw, policy=policy.strict)
    assert parsed["MIME-Version"] == "1.0"
    assert all(part["MIME-Version"] is None for part in parsed.iter_parts())


@pytest.mark.parametrize("subject", LONG_SUBJECTS)
def test_long_subjects_fold_into_whole_character_encoded_words(subject: str) -> None:
    raw = email(subject=subject).to_bytes()

    # The strict policy raises on any defect it finds while parsing.
    parsed = message_from_bytes(raw, policy=policy.strict)
    assert parsed["Subject"] == subject
    assert not parsed.defects and all(not part.defects for part in parsed.walk())
    block = header_block(raw, "Subject")
    assert all(len(line) <= 76 for line in block.split("\r\n"))  # RFC 2047 2
    words = re.findall(r"=\?utf-8\?([qb])\?([^?]*)\?=", block, re.IGNORECASE)
    if subject.isascii() and "=?" not in subject and max(map(len, subject.split())) < 60:
        assert not words  # plain ASCII is never encoded
        return
    assert words
    for encoding, text in words:
        assert len(f"=?utf-8?{encoding}?{text}?=") <= 75  # RFC 2047 2
        data = (
            quopri.decodestring(text.encode(), header=True)
            if encoding.lower() == "q"
            else base64.b64decode(text)
        )
        data.decode("utf-8")  # whole characters: no word ends inside a UTF-8 sequence (RFC 2047 5)


def test_a_non_ascii_display_name_round_trips_under_the_strict_parser() -> None:
    raw = email().to_bytes()
    parsed = message_from_bytes(raw, policy=policy.strict)
    assert parsed["From"].addresses[0].display_name == "Club Lumière"
    assert parsed["To"].addresses[0].display_name == "Zoé Martin"
    assert parsed["To"].addresses[0].addr_spec == "zoe@example.com"


# --- DKIM ------------------------------------------------------------------------------------


@pytest.fixture
def dkim_key(tmp_path: Path) -> tuple[Path, bytes]:
    """A fresh RSA key in a PEM file, and the TXT record that publishes its public half."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "dkim.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return path, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def dns_serving(record: bytes, name: str) -> Any:
    def txt(queried: bytes, timeout: int = 5) -> bytes | None:
        return record if queried.decode() == name else None

    return txt


async def test_a_dkim_signed_message_verifies_against_the_published_key(
    smtp_server: SmtpServer, dkim_key: tuple[Path, bytes]
) -> None:
    key_file, record = dkim_key
    settings = Settings(
        email_from="Club Lumière <club@example.com>",
        dkim_private_key_file=key_file,
        dkim_selector=SELECTOR,
    )
    signing = channel(smtp_server, dkim=dkim_signer(settings))
    try:
        await signing.send(email(subject=LONG_SUBJECTS[0]))
    finally:
        await signing.aclose()

    [raw] = smtp_server.raw_messages
    dns = dns_serving(record, f"{SELECTOR}._domainkey.example.com.")
    assert dkim.verify(raw, dnsfunc=dns)
    signature = header_block(raw, "DKIM-Signature").replace("\r\n", "")
    assert " d=example.com;" in signature and f" s={SELECTOR};" in signature
    # RFC 8058: the one-click unsubscribe headers are covered by the signature.
    assert "list-unsubscribe:list-unsubscribe-post" in signature.lower().replace(" ", "")
    # Changed on the way (subject, body): the signature no longer holds.
    assert not dkim.verify(raw.replace(b"Subject: ", b"Subject: Re: ", 1), dnsfunc=dns)
    assert not dkim.verify(raw.replace(b"Bonjour", b"Bonsoir", 1), dnsfunc=dns)


def test_dkim_domain_setting_names_the_signing_domain(dkim_key: tuple[Path, bytes]) -> None:
    key_file, record = dkim_key
    settings = Settings(
        dkim_private_key_file=key_file, dkim_selector=SELECTOR, dkim_domain="club.example.com"
    )
    signer = dkim_signer(settings)
    assert signer is not None and signer.domain == "club.example.com"
    raw = email(sender="Club <club@club.example.com>").to_bytes(dkim=signer)
    assert dkim.verify(raw, dnsfunc=dns_serving(record, f"{SELECTOR}._domainkey.club.example.com."))


def test_dkim_is_off_without_a_key_and_misconfiguration_stops_at_start(tmp_path: Path) -> None:
    assert dkim_signer(Settings()) is None
    assert b"DKIM-Signature" not in email().to_bytes()
    with pytest.raises(ValidationError, match="LOYALFLOW_DKIM_SELECTOR"):
        Settings(dkim_private_key_file=tmp_path / "dkim.pem")
    with pytest.raises(ValueError, match="cannot read"):
        DkimSigner.from_file(tmp_path / "missing.pem", selector=SELECTOR, domain="example.com")
    not_a_key = tmp_path / "not-a-key.pem"
    not_a_key.write_text("-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----\n")
    with pytest.raises(ValueError, match="LOYALFLOW_DKIM_PRIVATE_KEY_FILE"):
        DkimSigner.from_file(not_a_key, selector=SELECTOR, domain="example.com")
