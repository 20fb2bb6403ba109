"""The FastAPI application: events in, members and their state out."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError

from loyalflow.api.errors import validation_error_handler
from loyalflow.api.routes import (
    codec,
    events,
    health,
    members,
    preferences,
    redemptions,
    timeline,
    twilio,
    unsubscribe,
)
from loyalflow.catalog.registry import get_catalog, publish_versions
from loyalflow.config import Settings, get_settings
from loyalflow.members.promotions import check_promotions
from loyalflow.models.db import assert_schema_current
from loyalflow.rules.loyalty import rules_from
from loyalflow.rules.rewards import rewards_from
from loyalflow.runtime.connection import connect


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

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

    app = FastAPI(
        title="loyalflow",
        summary="Member journeys for loyalty programs, run durably on Temporal",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.include_router(members.router)
    app.include_router(redemptions.router)
    app.include_router(timeline.router)
    app.include_router(events.router)
    app.include_router(health.router)
    app.include_router(unsubscribe.router)
    app.include_router(preferences.router)
    app.include_router(twilio.router)
    app.include_router(codec.router)
    app.add_middleware(codec.CodecCORSMiddleware, origins=settings.effective_codec_cors_origins)
    return app
