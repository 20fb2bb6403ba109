"""One SMTP conversation: one message on one connection, and how each failure is classified.

Up to the DATA command nothing can have been delivered (`Failure.before_data`); from DATA on, no
reply means the server may have queued the message (`AmbiguousSendError`). SMTP 5xx ->
`PermanentSendError`; 4xx, lost connections and timeouts -> `TransientSendError`; failures while
setting up a connection are transient whatever their code (see email.py).
"""

import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import aiosmtplib

from loyalflow.activities.channels.errors import (
    AmbiguousSendError,
    PermanentSendError,
    SendError,
    TransientSendError,
)

E = TypeVar("E", bound=BaseException)

# RFC 5321 4.2.3: "the server is closing the channel" (e.g. idle timeout, shutdown, overload).
SERVICE_NOT_AVAILABLE = 421
# RFC 3463 enhanced status codes 5.1.x: "addressing status" (bad mailbox, unknown user...).
ADDRESS_STATUS = re.compile(r"\s*5\.1\.\d{1,3}\b")
# Failures that mean the connection itself is gone or unusable, not a reply about the message.
CONNECTION_ERRORS = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError)


class Failure(Exception):
    """How one attempt on one connection failed (internal to the channel)."""

    def __init__(self, error: SendError, *, connection_ok: bool, before_data: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.connection_ok = connection_ok  # the connection can carry the next message
        # The server never received the content: a retry cannot deliver a second copy.
        self.before_data = before_data


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipient: str
    content: bytes
    smtputf8: bool


def by_code(code: int, message: str, *, about_recipient: bool) -> SendError:
    """5xx: permanent. The SMTP code is passed on as `code` only when the refusal is about the
    recipient's address, since the send activity suppresses an address on 550, 551 and 553."""
    if code >= 500:
        return PermanentSendError(message, code=code if about_recipient else None)
    return TransientSendError(message)


def find_cause(exc: BaseException, kind: type[E]) -> E | None:
    """`exc` or the first exception it was raised from (or during) that is a `kind`."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


async def transmit(
    smtp: aiosmtplib.SMTP,
    envelope: "Envelope",
    server: str,
    on_handover: Callable[[], Awaitable[None]] | None = None,
) -> str:
    """The final reply's text, or a `Failure` saying what can be done next.

    `on_handover` runs after RCPT and right before DATA: from there on the server may have it.
    """
    encoding = "utf-8" if envelope.smtputf8 else "ascii"
    try:
        options: list[str] = []
        if envelope.smtputf8:
            if not smtp.supports_extension("smtputf8"):
                raise Failure(
                    PermanentSendError(
                        f"{server} does not support SMTPUTF8, needed for the "
                        f"non-ASCII address {envelope.recipient!r}"
                    ),
                    connection_ok=True,
                    before_data=True,
                )
            options = ["SMTPUTF8"]
            if smtp.supports_extension("8bitmime"):
                options.append("BODY=8BITMIME")
        await smtp.mail(envelope.sender, options=options, encoding=encoding)
        await smtp.rcpt(envelope.recipient, encoding=encoding)
    except Failure:
        raise
    except aiosmtplib.SMTPRecipientRefused as exc:
        kind = "refused" if exc.code >= 500 else "deferred"
        error = by_code(
            exc.code, f"recipient {kind}: {exc.code} {exc.message}", about_recipient=True
        )
        raise await reset_after(smtp, exc, error, before_data=True) from exc
    except aiosmtplib.SMTPResponseException as exc:
        # MAIL refused: about our sender (or the server), never the member's address.
        error = by_code(exc.code, f"SMTP {exc.code}: {exc.message}", about_recipient=False)
        raise await reset_after(smtp, exc, error, before_data=True) from exc
    except CONNECTION_ERRORS as exc:
        error = TransientSendError(f"{server} connection lost: {exc}")
        raise Failure(error, connection_ok=False, before_data=True) from exc
    except aiosmtplib.SMTPException as exc:
        error = TransientSendError(f"{server}: {exc}")
        raise Failure(error, connection_ok=False, before_data=True) from exc

    if not smtp.is_connected:
        # Lost between RCPT and DATA: still safe to retry. (aiosmtplib sends DATA and the
        # content in one step, so once `data()` starts, a lost connection is ambiguous.)
        error = TransientSendError(f"{server} closed the connection before DATA")
        raise Failure(error, connection_ok=False, before_data=True)
    if on_handover is not None:
        await on_handover()
    try:
        response = await smtp.data(envelope.content)
    except aiosmtplib.SMTPDataError as exc:
        # A reply, to DATA or to the content: the server has decided; nothing is in doubt.
        # Some servers refuse an unknown mailbox only here; the enhanced status code tells
        # that ("5.1.1") apart from a refusal of the content ("5.7.1 spam").
        about_recipient = ADDRESS_STATUS.match(exc.message) is not None
        error = by_code(
            exc.code, f"SMTP {exc.code}: {exc.message}", about_recipient=about_recipient
        )
        # Not retried at once even when the reply says it was not accepted: the activity's
        # own retry (with backoff) handles a transient refusal.
        raise await reset_after(smtp, exc, error, before_data=False) from exc
    except (*CONNECTION_ERRORS, aiosmtplib.SMTPException) as exc:
        error = AmbiguousSendError(
            f"{server} gave no final reply after the message content was sent "
            f"({type(exc).__name__}: {exc}); it may have accepted the message, so it is "
            "not sent again"
        )
        raise Failure(error, connection_ok=False, before_data=False) from exc
    return response.message


async def reset_after(
    smtp: aiosmtplib.SMTP,
    exc: aiosmtplib.SMTPResponseException,
    error: SendError,
    *,
    before_data: bool,
) -> Failure:
    """After a refusal the connection is reusable once RSET clears the transaction."""
    if exc.code == SERVICE_NOT_AVAILABLE:
        # The server announced it is closing this connection.
        return Failure(error, connection_ok=False, before_data=before_data)
    try:
        await smtp.rset()
    except (aiosmtplib.SMTPException, OSError):
        return Failure(error, connection_ok=False, before_data=before_data)
    return Failure(error, connection_ok=True, before_data=before_data)


def connect_error(
    exc: Exception, *, server: str, username: str | None, timeout: float, start_tls: bool
) -> TransientSendError:
    """A failure to set up a connection, classified transient, naming the setting to check."""
    certificate = find_cause(exc, ssl.SSLCertVerificationError)
    if certificate is not None:
        return TransientSendError(
            f"{server}: TLS certificate not trusted ({certificate.verify_message}); "
            "the server must present a certificate for this host name signed by a trusted "
            "CA (check LOYALFLOW_SMTP_HOST)"
        )
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        # A configuration problem: keep retrying (nothing is lost) but say exactly what is
        # wrong.
        return TransientSendError(
            f"{server} rejected the credentials for {username!r} "
            f"({exc.code} {exc.message}); check LOYALFLOW_SMTP_USERNAME and "
            "LOYALFLOW_SMTP_PASSWORD"
        )
    if isinstance(exc, aiosmtplib.SMTPNotSupported) and start_tls:
        return TransientSendError(
            f"{server} does not offer STARTTLS ({exc}); check LOYALFLOW_SMTP_PORT, "
            "LOYALFLOW_SMTP_STARTTLS and LOYALFLOW_SMTP_TLS"
        )
    if isinstance(exc, aiosmtplib.SMTPException) and "AUTH" in str(exc):
        return TransientSendError(
            f"{server} cannot authenticate {username!r} ({exc}); check "
            "LOYALFLOW_SMTP_USERNAME, LOYALFLOW_SMTP_PASSWORD and the TLS settings"
        )
    if isinstance(exc, ssl.SSLError) or find_cause(exc, ssl.SSLError) is not None:
        return TransientSendError(
            f"{server}: TLS failed ({exc}); check LOYALFLOW_SMTP_PORT, "
            "LOYALFLOW_SMTP_STARTTLS and LOYALFLOW_SMTP_TLS"
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return TransientSendError(f"{server} refused the connection: {exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return TransientSendError(f"{server} unreachable: no answer within {timeout:g}s ({exc})")
    return TransientSendError(f"{server} unreachable: {exc}")
