"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it accepts and can refuse on cue.

`SmtpServer()` is plain SMTP, as before. `SmtpServer(tls="starttls" | "implicit", ca=...)` serves
TLS with a certificate for 127.0.0.1 issued by a `trustme` test CA, and with `credentials` it
requires AUTH (PLAIN/LOGIN) before MAIL. The server runs in its own thread and event loop
(aiosmtpd's `Controller`). It can also misbehave on cue: hang up at the next MAIL, drop the
connection after taking a message's content, or answer it late.
"""

import asyncio
import ssl
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Literal, cast

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from tests.conftest import free_port

TlsMode = Literal["starttls", "implicit"]


class RecordingHandler:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw_messages: list[bytes] = []  # exactly as received (DKIM is checked on these)
        self.peers: list[Any] = []  # the client address (host, port) of each accepted message
        self.senders: list[str] = []  # the envelope sender (MAIL FROM) of each accepted message
        self.refusals: list[str] = []  # replies to give, in order, instead of accepting
        self.recipient_refusals: list[str] = []  # the same, for the next RCPTs
        self.hangups: list[str | None] = []  # next MAILs: close the connection (after a reply)
        self.drops_after_data = 0  # next messages: keep the message, drop without replying
        self.data_delays: list[float] = []  # next messages: wait this long before replying

    async def handle_MAIL(
        self, server: SMTP, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.hangups:
            reply = self.hangups.pop(0)
            if reply is not None:
                await server.push(reply)
            # As a server does when it times an idle client out while the client is sending.
            assert server.transport is not None
            server.transport.close()
            return reply or "421 4.4.2 closing"  # the transport is closed: never sent
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.recipient_refusals:
            return self.recipient_refusals.pop(0)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        if self.refusals:
            return self.refusals.pop(0)
        raw = cast(bytes, envelope.original_content or envelope.content)
        self.messages.append(message_from_bytes(raw, policy=policy.default))
        self.raw_messages.append(raw)
        self.peers.append(session.peer)
        self.senders.append(envelope.mail_from)
        if self.data_delays:  # taken, but the reply comes late (the client may have given up)
            await asyncio.sleep(self.data_delays.pop(0))
        if self.drops_after_data:
            self.drops_after_data -= 1
            assert server.transport is not None
            server.transport.close()  # the message is taken, the client never hears so
        return "250 Message accepted for delivery"


class _CountingController(Controller):
    """Counts the TCP connections the server accepted and those that ended."""

    def __init__(self, handler: RecordingHandler, *, implicit_tls: bool, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.implicit_tls = implicit_tls
        self.connections = 0
        self.disconnections = 0

    def factory(self) -> SMTP:
        # One SMTP instance per TCP connection.
        self.connections += 1
        controller = self

        class CountingSMTP(SMTP):
            def connection_lost(self, error: Exception | None) -> None:
                super().connection_lost(error)
                controller.disconnections += 1

        server = CountingSMTP(self.handler, **self.SMTP_kwargs)
        if self.implicit_tls:
            # aiosmtpd only counts STARTTLS as TLS and would refuse AUTH here, though the whole
            # connection is encrypted. (Passing auth_require_tls=False instead warns on every
            # connection that AUTH is allowed in clear text, which is not the case.)
            server._auth_require_tls = False
        return server


class SmtpServer:
    def __init__(
        self,
        *,
        tls: TlsMode | None = None,
        ca: trustme.CA | None = None,
        credentials: tuple[str, str] | None = None,
        idle_timeout: float = 300,
    ) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self.credentials = credentials
        kwargs: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "port": self.port,
            # Without it aiosmtpd looks up the FQDN (DNS) for every connection.
            "server_hostname": "localhost",
            # aiosmtpd closes a client idle for this long, as real servers do.
            "timeout": idle_timeout,
        }
        if tls is not None:
            if ca is None:
                raise ValueError("a TLS server needs the CA that issues its certificate")
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
            if tls == "starttls":
                kwargs.update(tls_context=server_context, require_starttls=True)
            else:
                kwargs["ssl_context"] = server_context
        if credentials is not None:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=True,
            )
        self.controller = _CountingController(
            self.handler, implicit_tls=tls == "implicit", **kwargs
        )

    def _authenticate(
        self, server: SMTP, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.credentials is not None
        user, password = self.credentials
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        # handled=False: aiosmtpd then answers "535 5.7.8 Authentication credentials invalid".
        return AuthResult(success=ok, handled=False)

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    @property
    def raw_messages(self) -> list[bytes]:
        return self.handler.raw_messages

    @property
    def connections(self) -> int:
        """TCP connections accepted since `start()` (aiosmtpd's own start-up probe excluded)."""
        return self.controller.connections

    @property
    def disconnections(self) -> int:
        """Connections closed since `start()`, by either side."""
        return self.controller.disconnections

    def refuse_next(self, *replies: str) -> None:
        self.handler.refusals.extend(replies)

    def refuse_next_recipient(self, *replies: str) -> None:
        """Replies to the next RCPTs instead of accepting the recipient."""
        self.handler.recipient_refusals.extend(replies)

    def hang_up_at_next_mail(self, reply: str | None = "421 4.4.2 Idle timeout, closing") -> None:
        """The next MAIL gets `reply` (None: nothing) and the connection is closed."""
        self.handler.hangups.append(reply)

    def drop_after_next_data(self) -> None:
        """The next message is accepted, but the connection drops before the 250 is sent."""
        self.handler.drops_after_data += 1

    def delay_next_data(self, seconds: float) -> None:
        self.handler.data_delays.append(seconds)

    def start(self) -> None:
        self.controller.start()
        # start() connects once itself to check the server is up; do not count that one. Its
        # close reaches the server a moment later: wait for it before counting from zero.
        for _ in range(500):
            if self.controller.disconnections:
                break
            time.sleep(0.01)
        self.controller.connections = self.controller.disconnections = 0

    def stop(self) -> None:
        self.controller.stop()


async def wait_for_received(smtp: SmtpServer, count: int, within: float = 120) -> None:
    """Until the sink holds `count` messages: the moment to kill a process mid-run."""
    for _ in range(int(within * 10)):
        if len(smtp.messages) >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"only {len(smtp.messages)} emails within {within}s")


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp_ca() -> trustme.CA:
    """A throwaway CA: it issues the test servers' certificates, and only test clients trust it."""
    return trustme.CA()


@pytest.fixture
def smtp_client_tls(smtp_ca: trustme.CA) -> ssl.SSLContext:
    """A client context as in production (verification on) that also trusts the test CA."""
    context = ssl.create_default_context()
    smtp_ca.configure_trust(context)
    return context


SMTP_USER, SMTP_PASSWORD = "loyalflow", "s3cret-pässword"


@pytest.fixture
def starttls_server(smtp_ca: trustme.CA) -> Iterator[SmtpServer]:
    """STARTTLS required, then AUTH required (only over TLS) as `SMTP_USER`/`SMTP_PASSWORD`."""
    server = SmtpServer(tls="starttls", ca=smtp_ca, credentials=(SMTP_USER, SMTP_PASSWORD))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def implicit_tls_server(smtp_ca: trustme.CA) -> Iterator[SmtpServer]:
    """TLS from the first byte (like port 465), AUTH required."""
    server = SmtpServer(tls="implicit", ca=smtp_ca, credentials=(SMTP_USER, SMTP_PASSWORD))
    server.start()
    yield server
    server.stop()
