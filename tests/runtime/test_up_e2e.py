"""`loyalflow up` as a user runs it: embedded Temporal, SQLite, worker, API, and a real SMTP server."""

import asyncio
import os
import re
import signal
import socket
import subprocess
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
from temporalio.client import Client, WorkflowExecutionStatus

from tests.bounces.samples import outlook_dsn
from tests.conftest import free_port
from tests.observability.scrape import samples, value
from tests.processes import start, wait_for_log
from tests.smtp_server import SmtpServer

READY = "Press Ctrl-C to stop."
MEMBER = "E2E-1"
JOINED = {
    "event_id": "e2e-joined-1",
    "member_id": MEMBER,
    "type": "member.joined",
    "occurred_at": "2026-11-20T09:00:00+01:00",
}


def up_environment(home: Path, smtp: SmtpServer) -> tuple[dict[str, str], dict[str, int]]:
    ports = {
        "temporal": free_port(),
        "ui": free_port(),
        "api": free_port(),
        "bounce": free_port(),
        "metrics": free_port(),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALFLOW_")}
    env.update(
        LOYALFLOW_HOME=str(home),
        LOYALFLOW_TEMPORAL_PORT=str(ports["temporal"]),
        LOYALFLOW_TEMPORAL_UI_PORT=str(ports["ui"]),
        LOYALFLOW_API_PORT=str(ports["api"]),
        LOYALFLOW_SMTP_HOST="127.0.0.1",
        LOYALFLOW_SMTP_PORT=str(smtp.port),
        LOYALFLOW_SMTP_STARTTLS="false",
        LOYALFLOW_EMAIL_FROM="Club <club@example.com>",
        LOYALFLOW_PUBLIC_URL=f"http://127.0.0.1:{ports['api']}",
        LOYALFLOW_BOUNCE_PORT=str(ports["bounce"]),
        LOYALFLOW_BOUNCE_DOMAIN="bounces.example.com",
        LOYALFLOW_WORKER_METRICS_PORT=str(ports["metrics"]),
        PYTHONUNBUFFERED="1",
    )
    return env, ports


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


async def wait_for_mail(smtp: SmtpServer, count: int, within: float = 30) -> list[EmailMessage]:
    for _ in range(int(within * 10)):
        if len(smtp.messages) >= count:
            break
        await asyncio.sleep(0.1)
    return smtp.messages


async def test_up_runs_the_welcome_journey_and_keeps_state_across_restarts(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    home = tmp_path / "home"
    env, ports = up_environment(home, smtp_server)
    api = f"http://127.0.0.1:{ports['api']}"
    log = tmp_path / "up.log"
    up = start(["up"], env, log)
    try:
        wait_for_log(log, READY, up, timeout=120)
        assert f"http://127.0.0.1:{ports['ui']}" in log.read_text()  # where the Web UI is
        assert f"{api}/console/" in log.read_text()  # and the console
        worker_metrics = f"http://127.0.0.1:{ports['metrics']}/metrics"
        assert worker_metrics in log.read_text() and f"{api}/metrics" in log.read_text()

        async with httpx.AsyncClient(base_url=api, timeout=30) as http:
            sign_in = await http.get("/console/", follow_redirects=True)
            assert sign_in.status_code == 200 and "Sign in to the console" in sign_in.text
            put = await http.put(
                f"/members/{MEMBER}",
                json={"email": "ada@example.com", "first_name": "Ada", "locale": "en"},
            )
            assert put.status_code == 201, put.text
            posted = await http.post("/events", json=JOINED)
            assert posted.json()["accepted"] == 1, posted.text

            [mail] = await wait_for_mail(smtp_server, 1)
            # The welcome journey tests two subject lines; either may reach this member.
            assert mail["Subject"] in (
                "Welcome to Loyalty Program, Ada!",
                "Ada, your first reward starts here",
            )
            assert mail["To"] == "ada@example.com"
            text, html = mail.get_body(("plain",)), mail.get_body(("html",))
            assert text is not None and "Hello Ada," in text.get_content()
            assert html is not None and "<strong>Loyalty Program</strong>" in html.get_content()
            # Each process its own metrics: the API ingested the event, the worker sent the mail.
            api_metrics = samples((await http.get("/metrics")).text)
            assert value(api_metrics, "loyalflow_events_ingested_total", type="member.joined") == 1
            email_sent = {"channel": "email", "outcome": "sent", "reason": ""}
            for _ in range(100):  # counted when the SMTP server's answer is back: just after
                sent = samples((await http.get(worker_metrics)).text)
                if value(sent, "loyalflow_messages_total", **email_sent):
                    break
                await asyncio.sleep(0.1)
            assert value(sent, "loyalflow_messages_total", **email_sent) == 1

            # The call to action, clicked in a browser: recorded, then redirected (issue 16).
            [tracked] = re.findall(r'href="(http://[^"]+/t/c/[^"]+)"', html.get_content())
            browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"}
            await asyncio.sleep(5)  # LOYALFLOW_TRACKING_BOT_SECONDS: sooner is a scanner
            followed = await http.get(tracked, headers=browser)
            assert followed.status_code == 302
            assert followed.headers["location"].startswith("https://example.com")
            # A bounce arrives later through the mail server: the receiver `up` started takes it.
            message_id = mail["Message-ID"].strip("<>").split("@")[0]
            async with aiosmtplib.SMTP(hostname="127.0.0.1", port=ports["bounce"]) as smtp:
                await smtp.sendmail(
                    "",
                    [f"bounces+{message_id}@bounces.example.com"],
                    outlook_dsn("ada@example.com").encode(),
                )
            timeline = (await http.get(f"/members/{MEMBER}/timeline")).json()
            summaries = [entry["summary"] for entry in timeline["entries"]]
            assert "email.clicked" in summaries and "email.bounced" in summaries

            # RFC 8058 one-click: what a mailbox provider does when the member clicks Unsubscribe.
            assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            unsubscribe = mail["List-Unsubscribe"].strip("<>")
            clicked = await http.post(
                unsubscribe,
                content="List-Unsubscribe=One-Click",
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert clicked.status_code == 200, clicked.text
            consents = (await http.get(f"/members/{MEMBER}")).json()["consents"]
            assert [(c["channel"], c["topic"], c["status"]) for c in consents] == [
                ("email", "onboarding", "revoked")
            ]

            again = await http.post("/events", json=JOINED)
            assert again.json() == {
                "accepted": 0,
                "duplicates": 1,
                "derived": 0,
                "events": [{"event_id": JOINED["event_id"], "status": "duplicate"}],
                "routing": "done",
            }
            rejoined = await http.post("/events", json={**JOINED, "event_id": "e2e-joined-2"})
            assert rejoined.json()["accepted"] == 1
            await asyncio.sleep(3)
            assert len(smtp_server.messages) == 1  # one journey, one welcome email

        temporal = await Client.connect(f"127.0.0.1:{ports['temporal']}")
        journey = await temporal.get_workflow_handle(f"journey-welcome-{MEMBER}").describe()
        assert journey.status == WorkflowExecutionStatus.RUNNING  # waiting its 3 days
        assert stop(up) == 0
        assert not port_open(ports["temporal"]) and not port_open(ports["api"])
        assert not port_open(ports["bounce"])

        # Same home, second start: the member, the ledger and the waiting journey are all there.
        log.write_text("")
        up = start(["up"], env, log)
        wait_for_log(log, READY, up, timeout=120)
        async with httpx.AsyncClient(base_url=api, timeout=30) as http:
            stored = (await http.get(f"/members/{MEMBER}")).json()
            assert stored["first_name"] == "Ada" and stored["joined_at"] is not None
        temporal = await Client.connect(f"127.0.0.1:{ports['temporal']}")
        journey = await temporal.get_workflow_handle(f"journey-welcome-{MEMBER}").describe()
        assert journey.status == WorkflowExecutionStatus.RUNNING
        assert len(smtp_server.messages) == 1
        assert stop(up) == 0
    finally:
        if up.poll() is None:
            os.killpg(os.getpgid(up.pid), signal.SIGKILL)
