"""The console as an ASGI app, mounted by the API at `/console` (outside its OpenAPI document:
these are pages, not endpoints). Errors become pages in the viewer's language; a request that
needs a session is sent to the sign-in page."""

from collections.abc import Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client

from loyalflow.config import Settings
from loyalflow.console.journey_figures import JourneyFigureJobs
from loyalflow.console.rendering import PREFIX, STATIC_DIR, page
from loyalflow.console.routes import (
    dashboard,
    home,
    journey_page,
    journeys,
    login,
    members,
    messages,
    simulate,
    templates,
    users,
)
from loyalflow.console.security import SecurityHeaders
from loyalflow.console.server_timing import ServerTiming
from loyalflow.console.simulations import Simulations
from loyalflow.console.snapshot_jobs import SnapshotJobs
from loyalflow.console.web import FormRefused, RoleRefused, SignInRequired

NOT_FOUND = "Not found"


async def _sign_in(request: Request, exc: Exception) -> Response:
    if request.method in ("GET", "HEAD"):
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{PREFIX}/login?next={quote(here, safe='')}", 303)
    return PlainTextResponse("sign in first", 401)


async def _role_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RoleRefused)
    return page(request, "error.html", None, 403, title="Not for your role", field=None)


async def _form_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FormRefused)
    return page(request, "error.html", None, exc.status_code, title=exc.why, field=None)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    title = NOT_FOUND if exc.status_code == 404 else str(exc.detail)
    return page(request, "error.html", None, exc.status_code, title=title, field=None)


async def _bad_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
    return page(request, "error.html", None, 400, title="Invalid field", field=field)


def create_console(settings: Settings, temporal: Callable[[], Client]) -> FastAPI:
    """`temporal` gives the API's client once its lifespan has connected it."""
    console = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    console.state.settings = settings
    console.state.temporal = temporal
    console.state.snapshot_jobs = SnapshotJobs()
    console.state.journey_figures = JourneyFigureJobs()
    console.state.simulations = Simulations()  # the API stops them on shutdown
    for router in (
        login.router,
        home.router,
        dashboard.router,
        members.router,
        messages.router,
        journeys.router,
        journey_page.router,
        templates.router,
        simulate.router,
        users.router,
    ):
        console.include_router(router)
    console.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    console.add_exception_handler(SignInRequired, _sign_in)
    console.add_exception_handler(RoleRefused, _role_refused)
    console.add_exception_handler(FormRefused, _form_refused)
    console.add_exception_handler(StarletteHTTPException, _http_error)
    console.add_exception_handler(RequestValidationError, _bad_request)
    console.add_middleware(SecurityHeaders, https=settings.public_url.startswith("https://"))
    console.add_middleware(ServerTiming)  # outermost: times the error pages and headers too
    return console
