"""SegmentSweepWorkflow: pages through members with activities; history stays bounded.

Four kinds: the inactivity sweep emits `member.inactive` events; a journey's segment sweep starts
the journey for the members matching its segment condition; the points expiry sweep expires due
lots and emits `points.expired` and `points.expiring`; the requalification sweep emits
`tier.downgraded` and `tier.will_downgrade`.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from loyalflow.models.workflow_io import SweepInput, SweepPage, SweepPageRequest, SweepResult

PAGE_TIMEOUT = timedelta(minutes=5)
PAGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=2)
)


@workflow.defn
class SegmentSweepWorkflow:
    @workflow.run
    async def run(self, input: SweepInput) -> SweepResult:
        as_of = input.as_of or workflow.now()
        cursor, emitted, scanned = input.after_member_id, input.emitted, input.scanned
        page_activity = (
            "sweep_segment_page"
            if input.journey_id
            else "sweep_points_expiry_page"
            if input.points_expiry
            else "sweep_requalification_page"
            if input.requalification
            else "sweep_inactive_page"
        )
        while True:
            page = await workflow.execute_activity(
                page_activity,
                SweepPageRequest(
                    as_of=as_of,
                    buckets_days=input.buckets_days,
                    journey_id=input.journey_id,
                    after_member_id=cursor,
                    limit=input.page_size,
                ),
                result_type=SweepPage,
                start_to_close_timeout=PAGE_TIMEOUT,
                retry_policy=PAGE_RETRY,
            )
            emitted += page.emitted
            scanned += page.scanned
            cursor = page.next_member_id
            if cursor is None:
                return SweepResult(as_of=as_of, scanned=scanned, emitted=emitted)
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    input.model_copy(
                        update={
                            "as_of": as_of,
                            "after_member_id": cursor,
                            "emitted": emitted,
                            "scanned": scanned,
                        }
                    )
                )
