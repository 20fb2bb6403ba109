"""Exactly once, the hard case: the worker dies after the provider accepted the message.

Runs on the dev server in real time: the time-skipping server will not skip past an activity
that a dead worker still holds.
"""

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from loyalflow.config import Settings
from loyalflow.models.workflow_io import JourneyResult
from loyalflow.workflows.journey import SEND_HEARTBEAT_TIMEOUT
from tests.journey_helpers import create_member, messages, send_event
from tests.processes import loyalflow_env, start, wait_for_log
from tests.smtp_server import RecordingHandler, SmtpServer

READY = "worker polling task queue"
ONE_SEND = """
id: receipt
name: One message
trigger: {event: member.joined}
topic: service
steps:
  - {id: receipt_email, kind: send, channel: email, template: welcome}
"""


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
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "receipt.yaml").write_text(ONE_SEND)
    address = dev_server_env.client.service_client.config.target_host
    settings = settings.model_copy(update={"temporal_address": address, "journeys_dir": journeys})
    smtp = SmtpServer()
    handler = KillingHandler()
    smtp.handler = handler
    smtp.controller.handler = handler
    smtp.controller.start()
    env = loyalflow_env(
        settings,
        LOYALFLOW_JOURNEYS_DIR=str(journeys),
        LOYALFLOW_SMTP_HOST="127.0.0.1",
        LOYALFLOW_SMTP_PORT=str(smtp.port),
        LOYALFLOW_SMTP_STARTTLS="false",
        LOYALFLOW_WORKER_MAX_CACHED_WORKFLOWS="0",
    )
    first = start(["worker"], env, tmp_path / "worker-1.log")
    handler.victim = first
    second = None
    try:
        wait_for_log(tmp_path / "worker-1.log", READY, first, timeout=60)
        create_member(settings, member_id, email="ivy@example.com")
        await send_event(dev_server_env.client, settings, member_id, "member.joined")
        first.wait(timeout=60)
        assert first.returncode == -signal.SIGKILL
        assert len(smtp.messages) == 1  # the server has it; the worker never learnt so

        second = start(["worker"], env, tmp_path / "worker-2.log")
        wait_for_log(tmp_path / "worker-2.log", READY, second, timeout=60)
        began = time.monotonic()
        handle = dev_server_env.client.get_workflow_handle(
            f"journey-receipt-{member_id}", result_type=JourneyResult
        )
        result = await handle.result()
        # Noticed through the missing heartbeats, not the 2-minute send timeout.
        assert time.monotonic() - began < SEND_HEARTBEAT_TIMEOUT.total_seconds() + 20
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        smtp.controller.stop()

    assert result.exit_reason == "completed"
    assert len(smtp.messages) == 1  # and after the retry, still exactly one
    [row] = messages(settings, member_id)
    assert row.status == "failed"
    assert (
        row.reason
        == "the worker stopped during the provider call; not re-sent, to avoid a duplicate"
    )
