"""The one way a workflow asks for a message: the `send_message` activity with its timeouts and
retries. Journeys and support's re-sends share it, so both give up, and retry, alike."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from loyalflow.models.workflow_io import SendRequest, SendResult

# Provider outages are retried with backoff for up to a day before the send is given up.
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
)
SEND_TIMEOUT = timedelta(minutes=2)
# The send activity heartbeats every 2 s: a worker that died mid-send is noticed this fast.
SEND_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
SEND_GIVE_UP_AFTER = timedelta(days=1)


async def send_message(request: SendRequest) -> SendResult:
    """Raises ActivityError once the send has been given up."""
    result: SendResult = await workflow.execute_activity(
        "send_message",
        request,
        result_type=SendResult,
        start_to_close_timeout=SEND_TIMEOUT,
        heartbeat_timeout=SEND_HEARTBEAT_TIMEOUT,
        schedule_to_close_timeout=SEND_GIVE_UP_AFTER,
        retry_policy=SEND_RETRY,
    )
    return result
