"""Benchmark: SMTP throughput, pooled connections vs one connection per message.

    python bench/smtp.py [--messages 2000] [--concurrency 16] [--pool-size 4] [--warmup 50]

Starts a local aiosmtpd server (STARTTLS required, then AUTH required; certificate from a
`trustme` CA) in a separate process, then sends the same kind of message (the welcome email's
size, French subject, text + HTML) in two ways, in this order, with at most `--concurrency`
sends in flight:

1. "per message": `aiosmtplib.send` for each message, as loyalflow did before pooling: connect,
   EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA, QUIT every time.
2. "pooled": `SmtpEmailChannel` with `--pool-size` connections, reused across messages.

Each phase first sends `--warmup` messages that are not timed. Prints messages/s for both, the
ratio, and CPU ms per message in this process (the client) and in the server process; writes the
same as JSON to bench/results/smtp-<timestamp>.json. Exits non-zero if the server did not receive
exactly the messages sent. See bench/README.md.
"""

import argparse
import asyncio
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import socket
import ssl
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import trustme

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere
from loyalflow.activities.channels.email import SmtpEmailChannel
from loyalflow.activities.channels.mime import OutgoingEmail

RESULTS_DIR = Path(__file__).resolve().parent / "results"
USER, PASSWORD = "bench", "bench-password"
# The channel looks its EHLO name up once; give the per-message phase the same name, looked up
# once too, so that the comparison is about connection reuse only.
LOCAL_HOSTNAME = socket.getfqdn()


# --- the server process ---------------------------------------------------------------------


class CountingHandler:
    """Accepts everything and only counts: the server should cost as little CPU as it can."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        self.bytes += len(envelope.original_content or envelope.content)
        return "250 2.0.0 Ok: queued"


def serve(port: int, cert_path: str, control: multiprocessing.connection.Connection) -> None:
    """Runs in the child process: aiosmtpd until told to stop, answering "stats" requests."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    # aiosmtpd logs a deprecation warning for every AUTH; it would drown the results.
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        return AuthResult(success=ok, handled=False)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path)
    handler = CountingHandler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    control.send("ready")
    while True:
        request = control.recv()
        if request == "stats":
            control.send({"messages": handler.messages, "bytes": handler.bytes})
        else:
            break
    controller.stop()
    control.send("stopped")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- the client -------------------------------------------------------------------------------


def welcome_email(n: int) -> OutgoingEmail:
    return OutgoingEmail(
        message_id=str(uuid.uuid4()),
        sender="Club Lumière <club@example.com>",
        recipient=f"member{n}@example.com",
        subject="Bienvenue chez Club Lumière, Zoé !",
        text="Bonjour Zoé,\n\nBienvenue chez Club Lumière ! " * 8,
        html='<html><body><p style="margin:0 0 16px;">Bonjour Zoé,</p>'
        + '<p style="margin:0 0 16px;">Bienvenue chez <strong>Club Lumière</strong> !</p>' * 20
        + "</body></html>",
        list_unsubscribe_url=f"https://club.example.com/unsubscribe/{uuid.uuid4().hex}",
    )


@dataclass
class Phase:
    name: str
    messages: int
    seconds: float
    messages_per_second: float
    client_cpu_ms_per_message: float
    server_cpu_ms_per_message: float


async def run_phase(
    name: str,
    send: Callable[[OutgoingEmail], Awaitable[object]],
    *,
    count: int,
    warmup: int,
    concurrency: int,
    server_pid: int,
) -> Phase:
    async def send_all(first: int, n: int) -> None:
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with gate:
                await send(welcome_email(i))

        await asyncio.gather(*(one(i) for i in range(first, first + n)))

    await send_all(0, warmup)
    client_cpu, server_cpu = time.process_time(), cpu_seconds(server_pid)
    started = time.perf_counter()
    await send_all(warmup, count)
    seconds = time.perf_counter() - started
    client_cpu = time.process_time() - client_cpu
    server_cpu = cpu_seconds(server_pid) - server_cpu
    return Phase(
        name=name,
        messages=count,
        seconds=round(seconds, 3),
        messages_per_second=round(count / seconds, 1),
        client_cpu_ms_per_message=round(1000 * client_cpu / count, 2),
        server_cpu_ms_per_message=round(1000 * server_cpu / count, 2),
    )


async def benchmark(
    args: argparse.Namespace, port: int, client_tls: ssl.SSLContext, pid: int
) -> list[Phase]:
    async def per_message(email: OutgoingEmail) -> object:
        return await aiosmtplib.send(
            email.to_mime(),
            hostname="127.0.0.1",
            port=port,
            username=USER,
            password=PASSWORD,
            start_tls=True,
            tls_context=client_tls,
            local_hostname=LOCAL_HOSTNAME,
            timeout=30,
        )

    pooled_channel = SmtpEmailChannel(
        host="127.0.0.1",
        port=port,
        username=USER,
        password=PASSWORD,
        start_tls=True,
        timeout=30,
        pool_size=args.pool_size,
        tls_context=client_tls,
    )
    common = {
        "count": args.messages,
        "warmup": args.warmup,
        "concurrency": args.concurrency,
        "server_pid": pid,
    }
    try:
        phases = [
            await run_phase("per message", per_message, **common),
            await run_phase("pooled", pooled_channel.send, **common),
        ]
    finally:
        await pooled_channel.aclose()
    return phases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()

    # Others' work on this machine moves the figures: record how busy it was at the start.
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    ca = trustme.CA()
    client_tls = ssl.create_default_context()  # verification on, as in production
    ca.configure_trust(client_tls)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cert_path = str(Path(tmp) / "server.pem")
        ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(cert_path)
        # A process of its own, not a thread: aiosmtpd is Python too, and in a thread it would
        # hold the same GIL as the client, so each side would wait for the other's Python code.
        spawn = multiprocessing.get_context("spawn")
        ours, theirs = spawn.Pipe()
        server = spawn.Process(target=serve, args=(port, cert_path, theirs), daemon=True)
        server.start()
        try:
            if not ours.poll(30) or ours.recv() != "ready":
                raise SystemExit("the SMTP server did not start")
            assert server.pid is not None
            phases = asyncio.run(benchmark(args, port, client_tls, server.pid))
            ours.send("stats")
            stats = ours.recv()
            ours.send("stop")
            ours.poll(10)
        finally:
            server.join(timeout=10)
            if server.is_alive():
                server.kill()

    expected = 2 * (args.messages + args.warmup)
    per_message, pooled = phases
    ratio = pooled.messages_per_second / per_message.messages_per_second
    print(
        f"{args.messages} messages per phase, concurrency {args.concurrency}, "
        f"pool size {args.pool_size}, STARTTLS + AUTH, server in its own process"
    )
    columns = ("msg/s", "wall s", "client CPU ms/msg", "server CPU ms/msg")
    print(f"{'phase':<12} {columns[0]:>8} {columns[1]:>8} {columns[2]:>18} {columns[3]:>18}")
    for p in phases:
        print(
            f"{p.name:<12} {p.messages_per_second:>8.1f} {p.seconds:>8.2f} "
            f"{p.client_cpu_ms_per_message:>18.2f} {p.server_cpu_ms_per_message:>18.2f}"
        )
    print(f"pooled / per message: {ratio:.1f}x")
    print(f"load average before the run: {' '.join(load_before)}")
    print(f"server received {stats['messages']} messages (expected {expected})")

    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "args": vars(args),
        "phases": [asdict(p) for p in phases],
        "ratio": round(ratio, 2),
        "server": stats,
        "cpus": os.cpu_count(),
        "loadavg_before": load_before,
        "python": sys.version.split()[0],
        "aiosmtplib": aiosmtplib.__version__,
    }
    (RESULTS_DIR / f"smtp-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0 if stats["messages"] == expected else 1


if __name__ == "__main__":
    sys.exit(main())
