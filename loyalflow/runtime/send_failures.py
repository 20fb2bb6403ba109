"""One readable log line per failed send attempt, and a summary when the same failure repeats.

Without this, every failed attempt of `send_message` (an SMTP server down for a minute, a hundred
messages retrying) reaches the Temporal SDK as an exception, which logs a WARNING with the full
traceback: about 1,740 traceback blocks for a 60-second outage. A failure the channel classified
(`SendError`: the provider refused or could not be reached) is expected, and its traceback says
nothing the reason does not. So the worker's interceptor:

- logs it as one line: channel, message id, attempt, reason and when Temporal retries it;
- lets the same failure (same channel, same reason) through once per `window_seconds`, and
  counts the repeats, summarised in one line when the window ends, when that channel sends
  again, or when the worker stops;
- hands it on to Temporal as a BENIGN `ApplicationError` of the same type and message (the
  workflow sees exactly what it saw before; the SDK logs it at DEBUG, without a traceback).

Anything else a send raises is unexpected and keeps the SDK's WARNING with its traceback.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from loyalflow.activities.channels.errors import SendError

log = logging.getLogger("loyalflow.sends")
SEND_ACTIVITY = "send_message"


@dataclass
class _Repeats:
    since: float  # when the line that opened this window was logged
    count: int = 0
    message_ids: list[str] = field(default_factory=list)


class SendFailureLog:
    """Logs failed send attempts, folding identical ones within a window into one summary."""

    SAMPLE_IDS = 3  # message ids quoted in a summary

    def __init__(
        self, window_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window_seconds = window_seconds
        self._clock = clock
        self._open: dict[tuple[str, str], _Repeats] = {}

    def failed(
        self, *, channel: str, message_id: str, attempt: int, reason: str, retry_in: float | None
    ) -> None:
        key = (channel, reason)
        now = self._clock()
        repeats = self._open.get(key)
        if repeats is not None and now - repeats.since < self.window_seconds:
            repeats.count += 1
            if len(repeats.message_ids) < self.SAMPLE_IDS:
                repeats.message_ids.append(message_id)
            return
        if repeats is not None:
            self._summarise(key, repeats, now)
        self._open[key] = _Repeats(since=now)
        retry = "no retry left" if retry_in is None else f"next retry in {retry_in:g}s"
        log.warning(
            "send failed: %s message %s, attempt %d: %s; %s",
            channel,
            message_id,
            attempt,
            reason,
            retry,
            extra={
                "channel": channel,
                "message_id": message_id,
                "attempt": attempt,
                "reason": reason,
                "next_retry_in_seconds": retry_in,
            },
        )

    def recovered(self, channel: str) -> None:
        """`channel` delivered again: the summaries of its failures are due now."""
        self.flush(channel)

    def flush(self, channel: str | None = None) -> None:
        now = self._clock()
        for key in [k for k in self._open if channel is None or k[0] == channel]:
            self._summarise(key, self._open.pop(key), now)

    def _summarise(self, key: tuple[str, str], repeats: _Repeats, now: float) -> None:
        if repeats.count == 0:
            return
        channel, reason = key
        more = ", …" if repeats.count > len(repeats.message_ids) else ""
        log.warning(
            "send failed the same way %d more time(s) in %.0fs: %s: %s (messages %s%s)",
            repeats.count,
            now - repeats.since,
            channel,
            reason,
            ", ".join(repeats.message_ids),
            more,
            extra={"channel": channel, "reason": reason, "repeats": repeats.count},
        )


def next_retry_in(info: activity.Info, error_type: str) -> float | None:
    """Seconds until Temporal runs the next attempt, or None when this was the last one."""
    policy = info.retry_policy
    if policy is None:
        return None
    if policy.maximum_attempts and info.attempt >= policy.maximum_attempts:
        return None
    if error_type in (policy.non_retryable_error_types or ()):
        return None
    delay = policy.initial_interval.total_seconds() * policy.backoff_coefficient ** (
        info.attempt - 1
    )
    if policy.maximum_interval is not None:
        delay = min(delay, policy.maximum_interval.total_seconds())
    return round(delay, 3)


class SendFailureInterceptor(Interceptor):
    def __init__(self, failures: SendFailureLog | None = None) -> None:
        self.failures = failures or SendFailureLog()

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _SendActivityInbound(next, self.failures)


class _SendActivityInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, failures: SendFailureLog) -> None:
        super().__init__(next)
        self.failures = failures

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        if info.activity_type != SEND_ACTIVITY:
            return await super().execute_activity(input)
        request = input.args[0]
        try:
            result = await super().execute_activity(input)
        except SendError as exc:
            error_type = type(exc).__name__
            self.failures.failed(
                channel=request.channel,
                message_id=request.message_id,
                attempt=info.attempt,
                reason=str(exc),
                retry_in=next_retry_in(info, error_type),
            )
            # `from None`: the failure Temporal records has the same shape as before (no cause).
            raise ApplicationError(
                str(exc), type=error_type, category=ApplicationErrorCategory.BENIGN
            ) from None
        self.failures.recovered(request.channel)
        return result
