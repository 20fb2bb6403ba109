"""A worker killed with SIGKILL mid-journey loses nothing and duplicates nothing."""

import signal
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from loyalflow.config import Settings
from tests.journey_helpers import (
    create_member,
    journey_result,
    messages,
    send_event,
    wait_for_messages,
    wait_for_timer,
)
from tests.processes import loyalflow_env, start, wait_for_log

READY = "worker polling task queue"


async def test_a_killed_worker_resumes_the_waiting_journey(
    time_skipping_env: WorkflowEnvironment, settings: Settings, member_id: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={"temporal_address": time_skipping_env.client.service_client.config.target_host}
    )
    env = loyalflow_env(settings)
    first_log, second_log = tmp_path / "worker-1.log", tmp_path / "worker-2.log"
    # A real server hands a dead worker's sticky tasks to others after 5 s; the time-skipping
    # test server never does, so the worker about to be killed runs without a sticky cache.
    first = start(["worker"], {**env, "LOYALFLOW_WORKER_MAX_CACHED_WORKFLOWS": "0"}, first_log)
    second = None
    try:
        wait_for_log(first_log, READY, first, timeout=60)
        create_member(settings, member_id, email="kim@example.com", first_name="Kim")
        await send_event(time_skipping_env.client, settings, member_id, "member.joined")
        assert len(await wait_for_messages(settings, member_id, 1)) == 1
        await wait_for_timer(time_skipping_env.client, f"journey-welcome-{member_id}")

        first.send_signal(signal.SIGKILL)  # no graceful shutdown: the journey is mid-wait
        assert first.wait(timeout=10) == -signal.SIGKILL

        second = start(["worker"], env, second_log)
        wait_for_log(second_log, READY, second, timeout=60)
        result = await journey_result(time_skipping_env, f"journey-welcome-{member_id}")
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)

    assert result.exit_reason == "completed"
    sent = messages(settings, member_id)
    assert [(m.template, m.channel, m.status) for m in sent] == [
        ("welcome", "email", "sent"),
        ("welcome_reminder", "sms", "skipped"),  # no phone: falls back to email
        ("welcome_reminder", "email", "sent"),
    ]
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 2
