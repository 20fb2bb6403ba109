"""Simulate (marketers and admins): pick a journey, a test member (a made-up profile, or a copy of
an existing member) and a number of days; the run goes on in the background (simulations.py)
while the page polls its progress, then shows the timeline. Starting one is audited."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.console.audit import audit
from loyalflow.console.rendering import PREFIX, page
from loyalflow.console.sessions import Viewer
from loyalflow.console.simulations import (
    DEFAULT_DAYS,
    MAX_DAYS,
    SampleProfile,
    SimulationBusy,
    Simulations,
    copy_of_member,
    opening_points,
    sample_member,
)
from loyalflow.console.web import Form, SettingsDep, checked_form, client_ip, role, wants_fragment
from loyalflow.members.consent import CHANNELS
from loyalflow.rules.loyalty import rules_from
from loyalflow.simulation.environment import journey_file
from loyalflow.simulation.simulate import MemberFile, ScriptEvent

router = APIRouter()
SIMULATORS = ("admin", "marketer")
Simulator = Annotated[Viewer, Depends(role(*SIMULATORS))]
Starting = Annotated[tuple[Viewer, Form], Depends(checked_form(*SIMULATORS))]
POLL_SECONDS = 1


def simulations_of(request: Request) -> Simulations:
    simulations: Simulations = request.app.state.simulations
    return simulations


def _choices(settings: Settings) -> dict[str, list[str]]:
    ladder = rules_from(settings.loyalty_rules_file).tiers
    return {
        "journeys": sorted(get_catalog(settings).journeys),
        "locales": list(settings.template_locales),
        "tiers": [level.name for level in ladder.levels],
        "channels": list(CHANNELS),
    }


def _form_page(
    request: Request,
    viewer: Viewer,
    settings: Settings,
    status_code: int = 200,
    problem: tuple[str, str] | None = None,
) -> HTMLResponse:
    run = simulations_of(request).latest(viewer.user.name)
    return page(
        request,
        "simulate.html",
        viewer,
        status_code,
        run=run,
        poll=POLL_SECONDS,
        default_days=DEFAULT_DAYS,
        max_days=MAX_DAYS,
        problem=problem,
        **_choices(settings),
    )


@router.get("/simulate", response_class=HTMLResponse)
async def simulate_page(request: Request, viewer: Simulator, settings: SettingsDep) -> Response:
    return await asyncio.to_thread(_form_page, request, viewer, settings)


@router.get("/simulate/runs/{run_id}", response_class=HTMLResponse)
async def progress(request: Request, run_id: str, viewer: Simulator) -> Response:
    """The run's progress, then its timeline (htmx polls this fragment until it is done)."""
    run = simulations_of(request).find(viewer.user.name, run_id)
    if run is None:
        raise HTTPException(404, "no such simulation")
    if not wants_fragment(request):
        return RedirectResponse(PREFIX + "/simulate", 303)
    return page(request, "simulate_run.html", viewer, run=run, poll=POLL_SECONDS)


class _Refused(Exception):
    def __init__(self, field: str, why: str, status_code: int = 400) -> None:
        super().__init__(why)
        self.field, self.why, self.status_code = field, why, status_code


def _member(
    settings: Settings, form: Form, choices: dict[str, list[str]]
) -> tuple[str, MemberFile, list[ScriptEvent]]:
    member_id = form.get("member_id")
    if member_id:
        try:
            member, history = copy_of_member(settings, member_id[:128])
        except LookupError:
            raise _Refused("member_id", "No such member.", 404) from None
        except ValidationError:  # a stored profile today's rules refuse (an old phone format)
            raise _Refused("member_id", "This member's profile cannot be simulated.") from None
        return f"copy of {member_id}", member, history
    locale, tier = form.get("locale", "en"), form.get("tier") or None
    if locale not in choices["locales"]:
        raise _Refused("locale", "Unknown locale.")
    if tier is not None and tier not in choices["tiers"]:
        raise _Refused("tier", "Unknown tier.")
    channels = tuple(c for c in choices["channels"] if form.get(f"consent_{c}") == "on")
    topics = {journey.topic for journey in get_catalog(settings).journeys.values()}
    profile = SampleProfile(locale, tier, channels)
    label = f"test member ({locale}, {tier or 'no tier'}, consents: {', '.join(channels) or '-'})"
    return label, sample_member(profile, topics), opening_points(settings, tier)


def _days(form: Form) -> int:
    text = form.get("days", str(DEFAULT_DAYS))
    if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise _Refused("days", f"Days must be a whole number from 1 to {MAX_DAYS}.")
    return int(text)


@router.post("/simulate")
async def start(request: Request, acting: Starting, settings: SettingsDep) -> Response:
    viewer, form = acting
    choices = await asyncio.to_thread(_choices, settings)
    journey_id = form.get("journey")
    try:
        if journey_id not in choices["journeys"]:
            raise _Refused("journey", "Unknown journey.")
        days = _days(form)
        label, member, history = await asyncio.to_thread(_member, settings, form, choices)
        try:
            path = journey_file(journey_id, settings)
        except FileNotFoundError:  # in the catalog from a file not named after its id
            raise _Refused("journey", "This journey cannot be simulated.") from None
        simulations_of(request).start(
            settings, viewer.user.name, (journey_id, path), (label, member, history), days
        )
    except _Refused as refused:
        problem = (refused.field, refused.why)
        return _form_page(request, viewer, settings, refused.status_code, problem)
    except SimulationBusy:
        problem = ("", "Your previous simulation is still running.")
        return _form_page(request, viewer, settings, 409, problem)
    await asyncio.to_thread(
        audit,
        settings.effective_database_url,
        viewer.user.name,
        "simulation.start",
        f"journey:{journey_id}",
        client_ip(request),
        member=label,
        days=days,
    )
    return RedirectResponse(PREFIX + "/simulate", 303)
