"""RetrySendWorkflow: support staff re-send a failed message (`loyalflow runs retry-send`).

The request is a copy of the failed message's, under a new message id decided by the caller (the
old ledger row is kept). The send goes through the same activity as a journey's, so consent,
suppression, quiet hours and caps apply again; a deferral is waited out durably.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from loyalflow.models.workflow_io import SendRequest, SendResult
    from loyalflow.workflows.sending import send_message


@workflow.defn
class RetrySendWorkflow:
    @workflow.run
    async def run(self, request: SendRequest) -> SendResult:
        # Deferrals expire counting from the retry, not from the original message.
        request = request.model_copy(update={"due_at": workflow.now()})
        while True:
            try:
                result = await send_message(request)
            except ActivityError as err:
                return SendResult(
                    message_id=request.message_id,
                    status="failed",
                    reason=f"gave up after retries: {err.cause or err}",
                )
            if result.status != "deferred" or result.retry_at is None:
                return result
            await workflow.sleep(max(result.retry_at - workflow.now(), timedelta(0)))
