"""GET /metrics: this API process's Prometheus metrics, and the events pending routing.

Scrapers authenticate like any client (`Authorization: Bearer <token>`), with the read-only
LOYALFLOW_METRICS_TOKEN or the API token; with neither set, /metrics is open like the rest.
"""

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from prometheus_client import REGISTRY, CollectorRegistry

from loyalflow.api.deps import SettingsDep
from loyalflow.api.errors import error_responses
from loyalflow.config import Settings
from loyalflow.observability.exposition import (
    CONTENT_TYPE,
    bearer_accepted,
    exposition,
    scrape_text,
    scrape_tokens,
)
from loyalflow.observability.metrics import EventsPending
from loyalflow.routing.router import count_unrouted

router = APIRouter(tags=["operations"])


def require_scrape_token(request: Request, settings: SettingsDep) -> None:
    if not bearer_accepted(request.headers.get("Authorization"), scrape_tokens(settings)):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong bearer token (LOYALFLOW_METRICS_TOKEN or the API token)",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _exposition(settings: Settings, temporal_url: str | None) -> bytes:
    url = settings.effective_database_url
    pending = CollectorRegistry(auto_describe=False)
    pending.register(EventsPending(lambda: count_unrouted(url)))
    body = exposition(REGISTRY, pending)
    return body + scrape_text(temporal_url) if temporal_url else body


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(require_scrape_token)],
    responses={
        200: {
            "description": "Prometheus text exposition format 0.0.4 (names in the README)",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **error_responses(401),
    },
)
async def metrics(request: Request, settings: SettingsDep) -> Response:
    """Counters and histograms of this process (events ingested, routing lag, HTTP latency),
    `loyalflow_events_pending` counted in the database now, and under `loyalflow api` the
    Temporal SDK's metrics of the API's client (journey starts and signals)."""
    temporal_url: str | None = getattr(request.app.state, "temporal_metrics_url", None)
    body = await run_in_threadpool(_exposition, settings, temporal_url)
    return Response(content=body, media_type=CONTENT_TYPE)
