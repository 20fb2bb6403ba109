from fastapi import APIRouter, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError

from loyalflow.api.deps import SettingsDep, TemporalDep, TokenDep
from loyalflow.api.errors import error_responses
from loyalflow.catalog.event_types import event_types_from
from loyalflow.members.ingest import EventsRejected, store_events
from loyalflow.models.api import EventIn, EventOutcome, IngestResponse
from loyalflow.routing.router import route_events
from loyalflow.rules.loyalty import rules_from

router = APIRouter(tags=["events"])
MAX_BATCH = 1000


@router.post(
    "/events",
    response_model=IngestResponse,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[TokenDep],
    responses=error_responses(400, 401),
)
async def post_events(
    body: EventIn | list[EventIn], settings: SettingsDep, temporal: TemporalDep
) -> IngestResponse:
    """Accepts one event or a batch. Idempotent by `event_id`; a bad event rejects the batch."""
    batch = body if isinstance(body, list) else [body]
    if len(batch) > MAX_BATCH:
        raise RequestValidationError(
            [
                {
                    "loc": ["body"],
                    "msg": f"at most {MAX_BATCH} events per request",
                    "type": "too_long",
                }
            ]
        )
    try:
        stored = await run_in_threadpool(
            store_events,
            settings.effective_database_url,
            batch,
            rules_from(settings.loyalty_rules_file),
            event_types_from(settings.events_file),
        )
    except EventsRejected as rejected:
        raise RequestValidationError(
            [
                {
                    "loc": ["body", p.index, *p.field.split(".")]
                    if isinstance(body, list)
                    else ["body", *p.field.split(".")],
                    "msg": p.message,
                    "type": "value_error",
                }
                for p in rejected.problems
            ]
        ) from rejected
    new = [s.event for s in stored if not s.duplicate]
    routed = await route_events(temporal, settings, new)
    posted = [s for s in stored if not s.derived]
    return IngestResponse(
        accepted=sum(1 for s in posted if not s.duplicate),
        duplicates=sum(1 for s in posted if s.duplicate),
        derived=len(stored) - len(posted),
        events=[
            EventOutcome(
                event_id=s.event.event_id, status="duplicate" if s.duplicate else "accepted"
            )
            for s in posted
        ],
        routing="done" if routed else "pending",
    )
