"""The FastAPI application: events in, members and their state out."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from loyalflow.api.errors import (
    method_not_allowed_handler,
    path_methods,
    validation_error_handler,
)
from loyalflow.api.openapi import describe_event_types
from loyalflow.api.request_metrics import RequestMetricsMiddleware
from loyalflow.api.routes import (
    codec,
    events,
    health,
    members,
    metrics,
    preferences,
    redemptions,
    reports_journeys,
    reports_kpis,
    segment,
    timeline,
    tracking,
    twilio,
    unsubscribe,
)
from loyalflow.catalog.event_types import event_types_from
from loyalflow.catalog.registry import get_catalog, publish_versions
from loyalflow.config import Settings, get_settings
from loyalflow.console.app import create_console
from loyalflow.console.rendering import PREFIX as CONSOLE_PREFIX
from loyalflow.members.promotions import check_promotions
from loyalflow.models.db import assert_schema_current
from loyalflow.rules.loyalty import rules_from
from loyalflow.rules.rewards import rewards_from
from loyalflow.runtime.connection import connect


async def segment_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, segment.SegmentError)
    return exc.response()


class OpenApiRefused(RuntimeError):
    """The API would be reachable from the network without a token (see Settings)."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    refusal = settings.open_api_refusal()
    if refusal:
        raise OpenApiRefused(refusal)
    # A wrong events.yaml fails here, at start-up, with its file:line errors.
    event_types = event_types_from(settings.events_file)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.effective_database_url
        await run_in_threadpool(assert_schema_current, url)
        # Fail at start-up, not on the first event, if a journey or the rules file is wrong.
        await run_in_threadpool(publish_versions, url, get_catalog(settings))
        rules = rules_from(settings.loyalty_rules_file)
        unknown_tiers = rewards_from(settings.rewards_file).unknown_tiers(rules.tiers)
        if unknown_tiers:
            raise ValueError(f"{settings.rewards_file}: {'; '.join(unknown_tiers)}")
        bad_promotions = check_promotions(rules)
        if bad_promotions:
            raise ValueError(f"{settings.loyalty_rules_file}: {'; '.join(bad_promotions)}")
        app.state.settings = settings
        app.state.temporal = await connect(settings, wait_seconds=30)
        yield
        # The console's simulations each run a Temporal test server: stopped with the API.
        await console.state.simulations.stop_all()

    app = FastAPI(
        title="loyalflow",
        summary="Member journeys for loyalty programs, run durably on Temporal",
        version="0.1.0",
        lifespan=lifespan,
    )
    describe_event_types(app, event_types)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, method_not_allowed_handler)
    routers = [
        members.router,
        redemptions.router,
        timeline.router,
        events.router,
        health.router,
        unsubscribe.router,
        preferences.router,
        twilio.router,
        tracking.router,
        codec.router,
        segment.router,
        metrics.router,
        reports_journeys.router,
        reports_kpis.router,
    ]
    for router in routers:
        app.include_router(router)
    app.state.path_methods = path_methods(routers)
    app.add_exception_handler(segment.SegmentError, segment_error_handler)
    app.add_middleware(codec.CodecCORSMiddleware, origins=settings.effective_codec_cors_origins)
    # The web console (pages, not API endpoints: it stays out of the OpenAPI document).
    console = create_console(settings, lambda: app.state.temporal)
    app.mount(CONSOLE_PREFIX, console)
    app.add_middleware(RequestMetricsMiddleware)  # outermost: times every request, CORS too
    return app
