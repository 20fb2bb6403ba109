"""What the worker's log says when sends fail: one line per failure, repeats summarised, no
traceback for a failure the channel classified; and JSON lines on request."""

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from loyalflow.activities.channels.email import SmtpEmailChannel
from loyalflow.config import Settings
from loyalflow.runtime.logs import configure_logging
from loyalflow.runtime.send_failures import SendFailureLog
from loyalflow.runtime.worker import build_worker
from tests.conftest import free_port, unique_member_id
from tests.journey_helpers import create_member, only_journeys, send_event, stop_running_journeys

REFUSED = "SMTP server 127.0.0.1:1: connection refused"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def sends_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "loyalflow.sends"]


def test_identical_failures_are_summarised_once_per_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    failures = SendFailureLog(window_seconds=60, clock=clock)

    for n in range(100):  # a minute-long outage, a hundred messages retrying
        failures.failed(
            channel="email", message_id=f"m{n}", attempt=1, reason=REFUSED, retry_in=5.0
        )
        clock.now += 0.5
    failures.failed(channel="sms", message_id="s1", attempt=2, reason="429 throttled", retry_in=10)
    clock.now = 61
    failures.failed(channel="email", message_id="m100", attempt=3, reason=REFUSED, retry_in=20)
    failures.failed(channel="email", message_id="m101", attempt=3, reason=REFUSED, retry_in=20)
    failures.recovered("email")
    failures.flush()

    assert sends_lines(caplog) == [
        f"send failed: email message m0, attempt 1: {REFUSED}; next retry in 5s",
        "send failed: sms message s1, attempt 2: 429 throttled; next retry in 10s",
        f"send failed the same way 99 more time(s) in 61s: email: {REFUSED} "
        "(messages m1, m2, m3, …)",
        f"send failed: email message m100, attempt 3: {REFUSED}; next retry in 20s",
        f"send failed the same way 1 more time(s) in 0s: email: {REFUSED} (messages m101)",
    ]


def test_the_last_attempt_says_there_is_no_retry(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    SendFailureLog().failed(channel="email", message_id="m", attempt=9, reason="x", retry_in=None)
    assert sends_lines(caplog) == ["send failed: email message m, attempt 9: x; no retry left"]


async def test_an_smtp_outage_logs_lines_not_tracebacks(
    dev_server_env: WorkflowEnvironment,
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    welcome_only = only_journeys(settings, tmp_path / "journeys", "welcome")
    down = free_port()  # nothing listens there: every connection is refused
    smtp = SmtpEmailChannel(
        host="127.0.0.1", port=down, username=None, password=None, start_tls=False, timeout=5
    )
    failures = SendFailureLog(window_seconds=3)
    members = [unique_member_id("LOG") for _ in range(5)]
    for n, member in enumerate(members):
        create_member(welcome_only, member, email=f"m{n}@example.com", first_name="Ann")
    client = dev_server_env.client
    async with build_worker(client, welcome_only, email=smtp, send_failures=failures):
        for member in members:
            await send_event(client, welcome_only, member, "member.joined")
        await asyncio.sleep(8)  # attempt 1 for all five, attempt 2 (after 5 s) for all five
        await stop_running_journeys(client, welcome_only)
    failures.flush()

    # Not one record with a traceback at WARNING or above, from the SDK or from loyalflow.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.exc_info]
    lines = sends_lines(caplog)
    firsts = [line for line in lines if line.startswith("send failed: email message")]
    summaries = [line for line in lines if line.startswith("send failed the same way")]
    assert firsts and all("unreachable" in line for line in firsts)
    assert all(line.endswith("next retry in 5s") for line in firsts if "attempt 1:" in line)
    assert all(line.endswith("next retry in 10s") for line in firsts if "attempt 2:" in line)
    repeated = sum(int(line.split()[5]) for line in summaries)
    # Ten failed attempts or more, told in a handful of lines.
    assert len(firsts) + repeated >= 10
    assert len(lines) <= 6


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_log_lines_carry_the_failure_fields(
    restored_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    monkeypatch.setattr("sys.stderr", out)
    configure_logging("json")
    SendFailureLog().failed(
        channel="email", message_id="m1", attempt=2, reason=REFUSED, retry_in=10.0
    )
    try:
        raise ValueError("unexpected")
    except ValueError:
        logging.getLogger("loyalflow.test").exception("boom")

    failure, unexpected = (json.loads(line) for line in out.getvalue().splitlines())
    assert failure["level"] == "WARNING" and failure["logger"] == "loyalflow.sends"
    assert failure["message"].startswith("send failed: email message m1, attempt 2")
    assert failure["channel"] == "email" and failure["message_id"] == "m1"
    assert failure["reason"] == REFUSED and failure["next_retry_in_seconds"] == 10.0
    assert "time" in failure
    assert unexpected["level"] == "ERROR" and "ValueError: unexpected" in unexpected["exc_info"]


def test_text_logs_stay_one_readable_line(
    restored_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    monkeypatch.setattr("sys.stderr", out)
    configure_logging("text")
    SendFailureLog().failed(channel="sms", message_id="s1", attempt=1, reason="x", retry_in=5)
    [line] = out.getvalue().splitlines()
    assert line.endswith(
        "WARNING loyalflow.sends send failed: sms message s1, attempt 1: x; next retry in 5s"
    )
