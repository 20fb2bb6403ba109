"""Email over SMTP with aiosmtplib: a small pool of open, authenticated (TLS) connections.

Opening an SMTP connection costs several round trips (greeting, EHLO, STARTTLS and the TLS
handshake, EHLO again, AUTH) before the first message; a pooled connection sends the next message
with three (MAIL, RCPT, DATA). The channel keeps up to `pool_size` connections per worker process
and uses each for one message at a time. `aclose()` closes them (worker shutdown).

Never deliver twice. A send has two halves:

- Up to the DATA command (connect, TLS, AUTH, MAIL, RCPT): nothing can have been delivered. A
  pooled connection that turns out to be dead here (the server closed it when idle, answered 421)
  is discarded and the message is retried once, at once, on a fresh connection. Other failures
  are classified as below; a transient one is safe for the send activity to retry later (it marks
  the message deferred and Temporal retries it).
- From the DATA command on (aiosmtplib sends DATA and, after the 354, the content in one call):
  a reply (250, 4xx, 5xx) is definitive. No reply (the connection dropped, the reply timed out)
  means the server may have queued the message: `AmbiguousSendError`, which must not be retried.
  That includes the rare loss between DATA and 354, which cannot be told apart from outside.

Errors are classified for the send activity: SMTP 5xx -> `PermanentSendError` (this message will
never go through); 4xx, connection failures and timeouts -> `TransientSendError`. Failures while
setting up a connection (TLS certificate, AUTH, a server refusing STARTTLS) are transient too,
whatever their code: they are configuration problems of the whole channel, not of one message, and
must not mark every message of a campaign failed while someone fixes them. Their messages name the
setting to check.
"""

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import aiosmtplib

from loyalflow.activities.channels.dkim_signing import DkimSigner
from loyalflow.activities.channels.errors import (
    PermanentSendError,
)
from loyalflow.activities.channels.mime import OutgoingEmail
from loyalflow.activities.channels.smtp_session import (
    Envelope,
    Failure,
    connect_error,
    transmit,
)

log = logging.getLogger(__name__)
E = TypeVar("E", bound=BaseException)


@dataclass
class _Connection:
    smtp: aiosmtplib.SMTP
    idle_since: float  # loop.time() when it was last put back in the pool
    generation: int  # bumped by aclose(): a connection out on a send then is closed on return


class SmtpEmailChannel:
    """Sends `OutgoingEmail`s through one SMTP server (a relay or an ESP's SMTP endpoint).

    `start_tls` upgrades a plain connection (usually port 587); `use_tls` is TLS from the first
    byte (usually port 465). Certificates are verified against the system's CAs unless
    `tls_context` is given (tests pass one that trusts their own CA). `timeout` bounds each
    network step (connect, each command, each reply), not the whole send. A send waits for a
    free connection when all `pool_size` are busy. Pooled connections idle for longer than
    `max_idle_seconds` are closed rather than reused: servers close idle clients (RFC 5321 asks
    for at least 5 minutes, many use less), and a dead connection costs a wasted round trip.
    """

    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        start_tls: bool,
        timeout: float,
        use_tls: bool = False,
        pool_size: int = 4,
        tls_context: ssl.SSLContext | None = None,
        max_idle_seconds: float = 60.0,
        message_id_domain: str | None = None,
        dkim: DkimSigner | None = None,
    ) -> None:
        if start_tls and use_tls:
            raise ValueError(
                "STARTTLS and implicit TLS are mutually exclusive: set LOYALFLOW_SMTP_STARTTLS "
                "(usually port 587) or LOYALFLOW_SMTP_TLS (usually port 465), not both"
            )
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, not {pool_size}")
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.start_tls = start_tls
        self.use_tls = use_tls
        self.timeout = timeout
        self.pool_size = pool_size
        self.max_idle_seconds = max_idle_seconds
        self._tls_context = tls_context
        self.message_id_domain = message_id_domain  # None: the sender's domain
        self.dkim = dkim
        self._local_hostname: str | None = None
        self._idle: list[_Connection] = []
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._generation = 0

    @property
    def _server(self) -> str:
        return f"SMTP server {self.host}:{self.port}"

    async def send(
        self,
        email: OutgoingEmail,
        on_handover: Callable[[], Awaitable[None]] | None = None,
        on_accepted: Callable[[str], Awaitable[None]] | None = None,
    ) -> str:
        """`on_accepted` runs with the provider id while the connection is still held: a worker
        killed meanwhile leaves at most one message in doubt per pooled connection, never one
        the server accepted on a connection that already carries the next message."""
        try:
            # Validated before taking a connection: a bad address is the message's fault.
            sender, recipient = email.envelope_sender, email.envelope_recipient
            email = email.on_domain(self.message_id_domain)
            content = email.to_bytes(utf8=email.needs_smtputf8, dkim=self.dkim)
        except (ValueError, UnicodeError) as exc:
            raise PermanentSendError(f"cannot build the message: {exc}") from exc
        envelope = Envelope(sender, recipient, content, email.needs_smtputf8)

        async with self._slots_for_this_loop():
            connection = self._take_idle()
            reused = connection is not None
            if connection is None:
                connection = await self._open()
            try:
                reply = await transmit(connection.smtp, envelope, self._server, on_handover)
            except Failure as failure:
                self._release(connection, keep=failure.connection_ok)
                if not (reused and failure.before_data and not failure.connection_ok):
                    raise failure.error from failure.__cause__
                # A pooled connection died before the server saw the message: most likely the
                # server dropped it while idle. Once, and only once, on a new connection.
                log.info("%s: pooled connection lost (%s); reconnecting", self._server, failure)
                connection = await self._open()
                try:
                    reply = await transmit(connection.smtp, envelope, self._server, on_handover)
                except Failure as second:
                    self._release(connection, keep=second.connection_ok)
                    raise second.error from second.__cause__
                except BaseException:
                    self._release(connection, keep=False)
                    raise
            except BaseException:
                # Cancelled (activity timeout, worker shutdown) mid-command: the connection is
                # in an unknown state. Before the hand-over the row is `ready` and a retry sends
                # it; after, it is `sending` and a retry treats it as interrupted.
                self._release(connection, keep=False)
                raise
            provider_id = f"{email.message_id_header} {reply}".strip()
            try:
                if on_accepted is not None:
                    await on_accepted(provider_id)
            finally:
                self._release(connection, keep=True)
        return provider_id

    async def aclose(self) -> None:
        """Closes the pooled connections (QUIT). Sends still running close theirs when done.

        The channel stays usable: a later send opens new connections.
        """
        self._generation += 1
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._quit(c.smtp) for c in idle))

    # --- the pool -------------------------------------------------------------------------------

    def _slots_for_this_loop(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Connections (and a semaphore's waiters) belong to the event loop that made them;
            # a channel reused from another loop (a test, a restarted worker loop) starts over.
            for connection in self._idle:
                _close_quietly(connection.smtp)
            self._idle = []
            self._loop = loop
            self._slots = asyncio.Semaphore(self.pool_size)
        assert self._slots is not None
        return self._slots

    def _take_idle(self) -> _Connection | None:
        assert self._loop is not None
        now = self._loop.time()
        while self._idle:
            # Most recently used first: the least likely to have been timed out by the server.
            connection = self._idle.pop()
            if connection.smtp.is_connected and now - connection.idle_since < self.max_idle_seconds:
                return connection
            _close_quietly(connection.smtp)
        return None

    def _release(self, connection: _Connection, *, keep: bool) -> None:
        if keep and connection.generation == self._generation and connection.smtp.is_connected:
            assert self._loop is not None
            connection.idle_since = self._loop.time()
            self._idle.append(connection)
        else:
            _close_quietly(connection.smtp)

    async def _open(self) -> _Connection:
        """A connected, TLS-protected and logged-in connection, or a classified error."""
        if self._local_hostname is None:
            # aiosmtplib would look this up (DNS) for every new connection.
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        tls = self.start_tls or self.use_tls
        if tls and self._tls_context is None:
            # Verification on: the system CAs, hostname checked. Built once, not per connection.
            self._tls_context = ssl.create_default_context()
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            local_hostname=self._local_hostname,
            use_tls=self.use_tls,
            start_tls=self.start_tls,  # True: required (fails if not offered); False: never
            tls_context=self._tls_context if tls else None,
            timeout=self.timeout,
        )
        try:
            await smtp.connect()
        except BaseException as exc:
            _close_quietly(smtp)
            if isinstance(exc, Exception):
                raise connect_error(
                    exc,
                    server=self._server,
                    username=self.username,
                    timeout=self.timeout,
                    start_tls=self.start_tls,
                ) from exc
            raise
        return _Connection(smtp, idle_since=0.0, generation=self._generation)

    async def _quit(self, smtp: aiosmtplib.SMTP) -> None:
        try:
            await smtp.quit(timeout=min(self.timeout, 5.0))
        except (aiosmtplib.SMTPException, OSError):
            pass
        finally:
            _close_quietly(smtp)


def _close_quietly(smtp: aiosmtplib.SMTP) -> None:
    # RuntimeError: its event loop is already closed, and the transport went with it.
    with contextlib.suppress(RuntimeError):
        smtp.close()
