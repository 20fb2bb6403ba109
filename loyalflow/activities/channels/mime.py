"""Builds the RFC 5322 message (text + HTML alternative) shared by the SMTP and outbox channels.

Three things here work around the standard library's defaults, each on purpose:

- Headers that carry non-ASCII text (Subject, display names) are written as RFC 2047 encoded
  words by `encoded_words` (whole characters per word, spaces kept inside the words, words and
  lines within RFC 2047's limits) and stored pre-folded; the library's encoders break one of
  those rules or another (see that module).
- `List-Unsubscribe` URLs must stay byte-for-byte intact; the modern folder turns a URL longer
  than a line into RFC 2047 encoded words, which no mail client would recognise. Pre-folded
  headers are written as they are because the policy has `refold_source="none"`.
- Both bodies are quoted-printable: the message is 7-bit clean, so it passes any relay whether or
  not it offers 8BITMIME, and long lines (inlined CSS makes long `style` attributes) are wrapped.
  `MIME-Version` appears once, in the message's header (RFC 2045 4), not in its parts.

The `Message-ID` is `<ledger id@domain>` (RFC 5322 3.6.4): the domain is the sender's unless
`LOYALFLOW_MESSAGE_ID_DOMAIN` names another. It depends only on the ledger id and settings, so
a message sent again after an interrupted attempt carries the same one.
"""

import re
from dataclasses import dataclass, replace
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from io import BytesIO
from urllib.parse import urlsplit

import css_inline

from loyalflow.activities.channels.dkim_signing import DkimSigner
from loyalflow.activities.channels.encoded_words import MAX_LINE as ENCODED_MAX_LINE
from loyalflow.activities.channels.encoded_words import fold_encoded, needs_encoding

# `refold_source="none"`: headers stored with `set_raw` are written exactly as given (already
# folded, see the module docstring); headers set by assignment are still folded by the policy.
MESSAGE_POLICY = policy.default.clone(refold_source="none")
# What goes on the wire: CRLF line ends (RFC 5321), same folding rules.
SMTP_POLICY = MESSAGE_POLICY.clone(linesep="\r\n")

# RFC 5322 2.1.1: a line MUST be at most 998 characters, CRLF excluded.
MAX_LINE = 998

# Email clients (Gmail, Outlook) drop or ignore `<style>` blocks, so rules are copied into each
# element's `style` attribute at build time. An element's own `style` wins over the block, as in
# a browser. Remote stylesheets are never fetched: sending must not depend on (or leak to) a third
# party, and a template's `<link>` is dropped. At-rules (`@media`) cannot be inlined; they stay in
# a `<style>` block for the clients that do read one.
_CSS_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)
_NEEDS_INLINING = re.compile(r"<(style|link)\b", re.IGNORECASE)


def inline_css(html: str) -> str:
    """`html` with the rules of its `<style>` blocks copied into `style` attributes."""
    # Without a `<style>` or `<link>` there is nothing to do; leave the markup exactly as written
    # (the inliner re-serialises the whole document).
    if not _NEEDS_INLINING.search(html):
        return html
    return _CSS_INLINER.inline(html)


def _check_header_url(url: str, what: str) -> None:
    # Inside `<...>` of List-Unsubscribe a URL cannot contain whitespace, angle brackets or
    # non-ASCII (it would need RFC 2047 encoding, which URLs do not allow).
    if not url.isascii() or any(c in url for c in "<> \t\r\n"):
        raise ValueError(f"{what} {url!r} must be an ASCII URL without spaces or angle brackets")


@dataclass(frozen=True)
class OutgoingEmail:
    message_id: str
    sender: str
    recipient: str
    subject: str
    text: str
    html: str
    # RFC 2369 / RFC 8058. The URL (https in production; http is accepted for a laptop setup)
    # gets a one-click `List-Unsubscribe-Post`; the mailto is an address such as
    # `unsubscribe@example.com` (or already `mailto:...`).
    list_unsubscribe_url: str | None = None
    list_unsubscribe_mailto: str | None = None
    # The right-hand side of the Message-ID; None: the sender's domain.
    message_id_domain: str | None = None
    # The SMTP envelope sender (MAIL FROM), where bounces go: a VERP address
    # `bounces+<message id>@<LOYALFLOW_BOUNCE_DOMAIN>`; None: the From address.
    envelope_from: str | None = None

    def __post_init__(self) -> None:
        if self.list_unsubscribe_url is not None:
            _check_header_url(self.list_unsubscribe_url, "list_unsubscribe_url")
            if urlsplit(self.list_unsubscribe_url).scheme.lower() not in ("http", "https"):
                raise ValueError(
                    f"list_unsubscribe_url {self.list_unsubscribe_url!r} must be http(s)"
                )
        if self.list_unsubscribe_mailto is not None:
            _check_header_url(self.list_unsubscribe_mailto, "list_unsubscribe_mailto")

    def on_domain(self, message_id_domain: str | None) -> "OutgoingEmail":
        """This email with its Message-ID on `message_id_domain`, unless it names one already."""
        if message_id_domain is None or self.message_id_domain is not None:
            return self
        return replace(self, message_id_domain=message_id_domain)

    @property
    def message_id_header(self) -> str:
        # Derived from the ledger id, so a receiving system can recognise a re-delivery.
        domain = self.message_id_domain or self.envelope_sender.rpartition("@")[2]
        # An internationalised sender domain in its ASCII (IDNA) form: msg-id is ASCII only.
        return f"<{self.message_id}@{domain.encode('idna').decode('ascii').lower()}>"

    @property
    def envelope_sender(self) -> str:
        if self.envelope_from is not None:
            return _addr_spec(self.envelope_from, "envelope_from")
        return _addr_spec(self.sender, "sender")

    @property
    def envelope_recipient(self) -> str:
        return _addr_spec(self.recipient, "recipient")

    @property
    def needs_smtputf8(self) -> bool:
        """True when an address itself (not a display name) is non-ASCII (RFC 6531)."""
        return not (self.envelope_sender.isascii() and self.envelope_recipient.isascii())

    def list_unsubscribe_headers(self) -> dict[str, str]:
        """`List-Unsubscribe` (and `List-Unsubscribe-Post`), unfolded; empty when not given."""
        targets: list[str] = []
        if self.list_unsubscribe_url:
            targets.append(self.list_unsubscribe_url)
        if self.list_unsubscribe_mailto:
            mailto = self.list_unsubscribe_mailto
            if not mailto.lower().startswith("mailto:"):
                mailto = f"mailto:{mailto}"
            if "?" not in mailto:
                mailto += "?subject=unsubscribe"
            targets.append(mailto)
        if not targets:
            return {}
        headers = {"List-Unsubscribe": ", ".join(f"<{t}>" for t in targets)}
        if self.list_unsubscribe_url:
            # RFC 8058: the receiver POSTs "List-Unsubscribe=One-Click" to the URL, no page shown.
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return headers

    def to_mime(self) -> EmailMessage:
        message = EmailMessage(policy=MESSAGE_POLICY)
        message["Message-ID"] = self.message_id_header
        message["Date"] = formatdate(localtime=False, usegmt=True)
        _set_address(message, "From", self.sender, "sender")
        _set_address(message, "To", self.recipient, "recipient")
        _set_text(message, "Subject", self.subject)
        for name, value in self.list_unsubscribe_headers().items():
            # One URL per line: folding only at the comma, never inside a URL.
            folded = value.replace(", <", ",\n <")
            if any(len(line) > MAX_LINE - len(name) - 2 for line in folded.splitlines()):
                raise ValueError(f"{name} URL longer than a header line allows ({MAX_LINE})")
            message.set_raw(name, folded)
        message.set_content(self.text, cte="quoted-printable")
        message.add_alternative(inline_css(self.html), subtype="html", cte="quoted-printable")
        for part in message.iter_parts():
            # `add_alternative` builds the new part as a whole message, with its own header.
            del part["MIME-Version"]
        return message

    def to_bytes(self, *, utf8: bool = False, dkim: DkimSigner | None = None) -> bytes:
        """The message as sent over SMTP (CRLF). `utf8`: RFC 6531, for non-ASCII addresses;
        `dkim`: signed with that key."""
        out = BytesIO()
        BytesGenerator(out, policy=SMTP_POLICY.clone(utf8=utf8)).flatten(self.to_mime())
        content = out.getvalue()
        return dkim.sign(content) if dkim is not None else content


def _addr_spec(value: str, what: str) -> str:
    _, address = parseaddr(value)
    if not address or "@" not in address:
        raise ValueError(f"{what} {value!r} is not an email address")
    return address


def _set_address(message: EmailMessage, name: str, value: str, what: str) -> None:
    display_name, address = parseaddr(value)
    if not address or "@" not in address:
        raise ValueError(f"{what} {value!r} is not an email address")
    if not address.isascii():
        # RFC 6531 address: only an SMTPUTF8 (utf8=True) policy can write it, as raw UTF-8.
        message[name] = value
        return
    # Exactly the one address that goes in the envelope, whatever else `value` contained.
    room = ENCODED_MAX_LINE - len(name) - 2
    if display_name.isascii() or not needs_encoding(display_name, room):
        message.set_raw(name, formataddr((display_name, address)))
        return
    # A non-ASCII display name becomes encoded words (see the module docstring); the address
    # goes on a line of its own when the last word's line has no room left for it.
    phrase = fold_encoded(display_name, room)
    last_line = phrase.rpartition("\n")[2] if "\n" in phrase else f"{name}: {phrase}"
    joint = " " if len(last_line) + len(address) + 3 <= ENCODED_MAX_LINE else "\n "
    message.set_raw(name, f"{phrase}{joint}<{address}>")


def _set_text(message: EmailMessage, name: str, value: str) -> None:
    room = ENCODED_MAX_LINE - len(name) - 2
    if not needs_encoding(value, room):
        # Plain ASCII folds at spaces; nothing is encoded, nothing can be lost.
        message[name] = value
        return
    if any(c in value for c in "\r\n"):
        raise ValueError(f"{name} must be one line")
    message.set_raw(name, fold_encoded(value, room))
