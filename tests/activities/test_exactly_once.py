"""Exactly once, the hard case: the worker dies after the provider accepted the message.

Runs on the dev server in real time: the time-skipping server will not skip past an activity
that a dead worker still holds. Each test starts a real `loyalflow worker` process, lets the
provider (aiosmtpd, or Prism playing Twilio) accept the message and SIGKILLs the worker before it
hears the answer, then starts a second worker. The row was `sending` when the worker died, so
the retried activity sends nothing and marks it failed, `interrupted: ...` (README, "How a
send is made exactly once", step 5). For SMS, Twilio's delivery report then says what happened.
"""

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from twilio.request_validator import RequestValidator

from loyalflow.activities.ledger import INTERRUPTED_PREFIX
from loyalflow.api.app import create_app
from loyalflow.config import Settings
from loyalflow.models.workflow_io import JourneyResult
from loyalflow.workflows.sending import SEND_HEARTBEAT_TIMEOUT
from tests.journey_helpers import create_member, messages, send_event
from tests.prism import Forwarded, PrismProxy
from tests.processes import loyalflow_env, start, wait_for_log
from tests.smtp_server import RecordingHandler, SmtpServer

READY = "worker polling task queue"
ONE_SEND = """
id: receipt
name: One message
trigger: {event: member.joined}
topic: service
steps:
  - {id: receipt, kind: send, channel: CHANNEL, template: TEMPLATE}
"""
# The default policy holds SMS during quiet hours in the member's timezone: not this test's
# subject, and it would make the SMS test depend on the time of day it runs.
ANY_TIME = "topics:\n  service: {email: always, sms: always}\n"
TWILIO_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2  # Prism checks ^AC[0-9a-fA-F]{32}$
TWILIO_AUTH_TOKEN = "twilio-auth-token-for-tests"
PUBLIC_URL = "https://loyalty.example.com"


class Workers:
    """`loyalflow worker` processes, each logging to its own file; `stop` ends those still up."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = self.logs / f"worker-{len(self.started) + 1}.log"
        process = start(["worker"], self.env, log)
        self.started.append(process)
        wait_for_log(log, READY, process, timeout=60)
        return process

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)


def one_send_journey(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, channel: str, template: str
) -> Settings:
    """Settings whose only journey sends one message on `member.joined`, on the dev server."""
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    yaml = ONE_SEND.replace("CHANNEL", channel).replace("TEMPLATE", template)
    (journeys / "receipt.yaml").write_text(yaml)
    policy = tmp_path / "messaging.yaml"
    policy.write_text(ANY_TIME)
    address = env.client.service_client.config.target_host
    return settings.model_copy(
        update={
            "temporal_address": address,
            "journeys_dir": journeys,
            "messaging_policy_file": policy,
        }
    )


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    return loyalflow_env(
        settings,
        LOYALFLOW_JOURNEYS_DIR=str(settings.journeys_dir),
        LOYALFLOW_MESSAGING_POLICY_FILE=str(settings.messaging_policy_file),
        LOYALFLOW_WORKER_MAX_CACHED_WORKFLOWS="0",
        **extra,
    )


def assert_killed(process: subprocess.Popen[bytes]) -> None:
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


async def finish_with_a_new_worker(
    client: Client, workers: Workers, member_id: str
) -> JourneyResult:
    workers.start()
    began = time.monotonic()
    handle = client.get_workflow_handle(f"journey-receipt-{member_id}", result_type=JourneyResult)
    result: JourneyResult = await asyncio.wait_for(handle.result(), timeout=120)
    # Noticed through the missing heartbeats, not the 2-minute send timeout.
    assert time.monotonic() - began < SEND_HEARTBEAT_TIMEOUT.total_seconds() + 20
    return result


class KillingHandler(RecordingHandler):
    """Accepts the message, then kills the worker before it can hear the 250 reply."""

    def __init__(self) -> None:
        super().__init__()
        self.victim: subprocess.Popen[bytes] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if self.victim is not None:
            os.kill(self.victim.pid, signal.SIGKILL)
            self.victim = None
        return reply


async def test_a_worker_killed_after_the_smtp_server_accepted_sends_nothing_twice(
    dev_server_env: WorkflowEnvironment, settings: Settings, member_id: str, tmp_path: Path
) -> None:
    settings = one_send_journey(dev_server_env, settings, tmp_path, "email", "welcome")
    smtp = SmtpServer()
    handler = KillingHandler()
    smtp.handler = handler
    smtp.controller.handler = handler
    smtp.controller.start()
    workers = Workers(
        worker_env(
            settings,
            LOYALFLOW_SMTP_HOST="127.0.0.1",
            LOYALFLOW_SMTP_PORT=str(smtp.port),
            LOYALFLOW_SMTP_STARTTLS="false",
        ),
        tmp_path,
    )
    try:
        handler.victim = workers.start()
        create_member(settings, member_id, email="ivy@example.com")
        await send_event(dev_server_env.client, settings, member_id, "member.joined")
        assert_killed(workers.started[0])
        assert len(smtp.messages) == 1  # the server has it; the worker never learnt so

        result = await finish_with_a_new_worker(dev_server_env.client, workers, member_id)
    finally:
        workers.stop()
        smtp.controller.stop()

    assert result.exit_reason == "completed"
    assert len(smtp.messages) == 1  # and after the retry, still exactly one
    [row] = messages(settings, member_id)
    assert row.status == "failed"
    assert row.reason is not None and row.reason.startswith(INTERRUPTED_PREFIX)
    assert row.interrupted_at is not None and row.interrupted_at == row.handed_at


class KillOnAcceptance:
    """For `PrismProxy.after_answer`: once Prism has created the message (201), kills the
    worker before the proxy passes the answer on. Only once: the pid is not ours afterwards."""

    def __init__(self, victim: subprocess.Popen[bytes]) -> None:
        self.victim: subprocess.Popen[bytes] | None = victim

    def __call__(self, exchange: Forwarded) -> None:
        if self.victim is not None and exchange.creates_a_message and exchange.status == 201:
            os.kill(self.victim.pid, signal.SIGKILL)
            self.victim = None


async def test_a_worker_killed_after_twilio_accepted_an_sms_sends_nothing_twice(
    dev_server_env: WorkflowEnvironment,
    settings: Settings,
    member_id: str,
    tmp_path: Path,
    prism_proxy: PrismProxy,
) -> None:
    settings = one_send_journey(dev_server_env, settings, tmp_path, "sms", "welcome_reminder")
    phone = "+16502530001"
    workers = Workers(
        worker_env(
            settings,
            LOYALFLOW_TWILIO_ACCOUNT_SID=TWILIO_ACCOUNT_SID,
            LOYALFLOW_TWILIO_AUTH_TOKEN=TWILIO_AUTH_TOKEN,
            LOYALFLOW_TWILIO_FROM="+15557654321",
            LOYALFLOW_TWILIO_API_BASE_URL=prism_proxy.url,  # Prism, through the counting proxy
            LOYALFLOW_PUBLIC_URL=PUBLIC_URL,
        ),
        tmp_path,
    )
    try:
        prism_proxy.after_answer = KillOnAcceptance(workers.start())
        create_member(settings, member_id, phone=phone, first_name="Ivy")
        await send_event(dev_server_env.client, settings, member_id, "member.joined")
        assert_killed(workers.started[0])
        # Twilio (Prism) created the message; the worker died before it heard so.
        [accepted] = prism_proxy.messages_created()
        assert accepted.status == 201 and accepted.form["To"] == phone
        [row] = messages(settings, member_id)
        assert (row.status, row.provider_id) == ("sending", None)

        result = await finish_with_a_new_worker(dev_server_env.client, workers, member_id)
    finally:
        workers.stop()

    assert result.exit_reason == "completed"
    # The retried attempt found the row `sending` and sent nothing: one request reached Prism.
    assert len(prism_proxy.messages_created()) == 1
    [row] = messages(settings, member_id)
    assert (row.status, row.provider_id) == ("failed", None)
    assert row.reason is not None and row.reason.startswith(INTERRUPTED_PREFIX)
    assert row.interrupted_at is not None

    # Twilio then reports on the message at the StatusCallback the worker gave it, which names
    # the ledger row, so the row is corrected although the worker never learnt the SID.
    callback = accepted.form["StatusCallback"]
    assert callback == f"{PUBLIC_URL}/webhooks/twilio/status?message_id={row.message_id}"
    sid = json.loads(accepted.body)["sid"]
    report = {"MessageSid": sid, "MessageStatus": "sent", "To": phone}
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(callback, report)
    api_settings = settings.model_copy(
        update={"twilio_auth_token": SecretStr(TWILIO_AUTH_TOKEN), "public_url": PUBLIC_URL}
    )
    with TestClient(create_app(api_settings)) as api:
        response = api.post(
            callback.removeprefix(PUBLIC_URL),
            data=report,
            headers={"X-Twilio-Signature": signature},
        )
    assert response.status_code == 204, response.text
    [row] = messages(settings, member_id)
    assert (row.status, row.provider_id) == ("sent", sid)
    assert len(prism_proxy.messages_created()) == 1
