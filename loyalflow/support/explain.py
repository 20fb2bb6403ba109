"""`loyalflow member explain`: in plain words, why a member is or is not in a journey, and what
happens next. Reads the database (enrollment, `journey_step`, the definition snapshot the run
started with); the run's `trail` query only adds what the database cannot know, such as the exact
time a wait until a local time of day ends.
"""

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select
from temporalio.client import Client

from loyalflow.catalog.registry import get_catalog
from loyalflow.catalog.text import describe_step
from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.journey import Journey, SendStep, SplitStep, Step, WaitForStep, WaitStep
from loyalflow.models.tables import Enrollment, Event, JourneyStep, Member
from loyalflow.models.timeline import Explanation
from loyalflow.models.workflow_io import TrailEntry
from loyalflow.support.timeline import local, query_trail
from loyalflow.support.timeline_entries import load_definition, run_link

# The trail's note for waits on the member's clock: "until 2026-12-02 08:00 UTC (Europe/Paris)".
_UNTIL = re.compile(r"until (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC")


@dataclass
class _Facts:
    member: Member | None
    runs: list[Enrollment]
    journey: Journey | None  # the running / last run's snapshot, else the catalog's
    step_started: datetime | None  # when the current step was entered (journey_step)
    trigger_seen: Event | None  # the latest event of the trigger's type, if any


def _facts(settings: Settings, member_id: str, journey_id: str) -> _Facts:
    catalog = get_catalog(settings).journeys.get(journey_id)
    with session_scope(settings.effective_database_url) as session:
        member = session.get(Member, member_id)
        runs = list(
            session.exec(
                select(Enrollment)
                .where(Enrollment.member_id == member_id, Enrollment.journey_id == journey_id)
                .order_by(col(Enrollment.entry))
            )
        )
        last = runs[-1] if runs else None
        journey = (
            load_definition(session, journey_id, last.journey_version) if last else None
        ) or catalog
        started = _step_started(session, last) if last and last.current_step else None
        trigger_seen = None
        if journey is not None and journey.trigger.event is not None:
            trigger_seen = session.exec(
                select(Event)
                .where(Event.member_id == member_id, Event.type == journey.trigger.event)
                .order_by(col(Event.occurred_at).desc())
            ).first()
        return _Facts(member, runs, journey, started, trigger_seen)


def _step_started(session: Session, run: Enrollment) -> datetime | None:
    return session.exec(
        select(JourneyStep.at)
        .where(
            JourneyStep.workflow_id == run.workflow_id,
            JourneyStep.step_id == run.current_step,
        )
        .order_by(col(JourneyStep.at).desc())
    ).first()


def _then(journey: Journey, step: Step) -> str:
    exits = journey.exits(step)
    targets = [t for _, t in exits]
    if not targets:
        return "then the journey ends"
    if len(targets) == 1:
        return f"then step {targets[0]}" if targets[0] else "then the journey ends"
    return "then " + "; ".join(
        f"{label or 'next'}: {('step ' + t) if t else 'the end'}" for label, t in exits
    )


def _step_or_end(target: str | None) -> str:
    return f"step {target}" if target else "the journey ends"


def _running_text(
    facts: _Facts, run: Enrollment, journey: Journey, trail: list[TrailEntry] | None
) -> tuple[str, str | None]:
    assert facts.member is not None and run.current_step is not None
    tz = facts.member.timezone
    steps = {s.id: s for s in journey.steps}
    step = steps.get(run.current_step)
    entered = f"in journey {journey.id} since {local(run.entered_at, tz)}"
    if step is None:
        return f"{entered}, at step {run.current_step}", None
    started = facts.step_started
    exits_on = [r.event for r in journey.exit_when]
    leaves = f"; a {' or '.join(exits_on)} ends the journey at once" if exits_on else ""
    nexts = [t for _, t in journey.exits(step)]
    next_step = nexts[0] if len(nexts) == 1 else None
    if isinstance(step, WaitForStep):
        until = f" until {local(started + step.timeout, tz)}" if started else ""
        on_event, on_timeout = (t for _, t in journey.exits(step))  # `end` is None here
        text = (
            f"{entered}: waiting{until} for a {step.event}, then {_step_or_end(on_event)}; "
            f"if none comes by then, {_step_or_end(on_timeout)}"
        )
        return text, None
    if isinstance(step, WaitStep):
        deadline = _wait_deadline(step, started, trail)
        when = f"until {local(deadline, tz)}" if deadline else f"({describe_step(step)})"
        return f"{entered}: waiting {when}, {_then(journey, step)}{leaves}", next_step
    if isinstance(step, SendStep):
        last = trail[-1] if trail else None
        doing = f"sending {step.template}"
        if last is not None and last.step == step.id and last.outcome == "deferred":
            doing += f", deferred ({last.detail})"
        return f"{entered}: {doing}, {_then(journey, step)}{leaves}", next_step
    return f"{entered}: at step {step.id} ({describe_step(step)}), {_then(journey, step)}", None


def _wait_deadline(
    step: WaitStep, started: datetime | None, trail: list[TrailEntry] | None
) -> datetime | None:
    for entry in reversed(trail or []):
        if entry.step == step.id and entry.outcome == "waiting" and entry.detail:
            found = _UNTIL.search(entry.detail)
            if found:
                return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
            if not step.needs_member_clock and step.duration is not None:
                return entry.at + step.duration
    if started is not None and not step.needs_member_clock and step.duration is not None:
        return started + step.duration
    return None


def _finished_text(facts: _Facts, run: Enrollment, journey: Journey | None) -> str:
    assert facts.member is not None and run.exited_at is not None
    tz = facts.member.timezone
    text = (
        f"entered journey {run.journey_id} on {local(run.entered_at, tz)} and exited on "
        f"{local(run.exited_at, tz)}: {run.exit_reason}"
    )
    if run.exit_reason == "holdout" and journey is not None:
        split = next((s for s in journey.steps if isinstance(s, SplitStep)), None)
        experiment = (split.experiment or f"{journey.id}.{split.id}") if split else "the test"
        text += f" (the control group of {experiment}: it receives no message, by design)"
    if run.converted_at is not None:
        text += f"; reached the goal on {local(run.converted_at, tz)}"
    if journey is not None:
        text += ". " + _re_entry(journey, run)
    return text


def _re_entry(journey: Journey, run: Enrollment) -> str:
    rule = journey.re_entry
    if rule.policy == "never":
        return "It will not enter again (re-entry: never)"
    if rule.policy == "after_exit" and rule.cooldown and run.exited_at is not None:
        return f"It may enter again from {run.exited_at + rule.cooldown:%Y-%m-%d} on its trigger"
    return "It may enter again on its next trigger"


def _never_text(facts: _Facts, journey: Journey) -> str:
    trigger = journey.trigger
    if trigger.segment is not None:
        return (
            f"never entered journey {journey.id}: it starts for members matching "
            f"`{trigger.segment}`, checked by a sweep on schedule `{trigger.cron}` (UTC); "
            "the member has not matched it yet"
        )
    seen = facts.trigger_seen
    if seen is None:
        return (
            f"never entered journey {journey.id}: it starts on a {trigger.event} event, and none "
            "has been received for this member yet"
        )
    why = (
        f"its condition `{trigger.condition}` did not hold then"
        if trigger.condition
        else "the event was stored without being routed (a backfill), or is still being routed"
    )
    return (
        f"never entered journey {journey.id}: a {seen.type} arrived on {seen.occurred_at:%Y-%m-%d}"
        f" but {why}"
    )


async def explain(
    settings: Settings, member_id: str, journey_id: str, client: Client | None = None
) -> Explanation:
    facts = await asyncio.to_thread(_facts, settings, member_id, journey_id)
    base = {"member_id": member_id, "journey_id": journey_id}
    if facts.member is None:
        return Explanation(**base, state="no_such_member", text=f"no member {member_id!r}")
    journey = facts.journey
    if not facts.runs:
        if journey is None:
            return Explanation(**base, state="no_such_journey", text=f"no journey {journey_id!r}")
        return Explanation(**base, state="never_entered", text=_never_text(facts, journey))
    run = facts.runs[-1]
    link = run_link(settings, run.workflow_id)
    common = {"workflow_id": run.workflow_id, "current_step": run.current_step, "link": link}
    if run.exited_at is not None:
        return Explanation(
            **base, **common, state="finished", text=_finished_text(facts, run, journey)
        )
    trail = await query_trail(client, run.workflow_id) if client is not None else None
    if journey is None or run.current_step is None:
        text = f"entered journey {journey_id}; its first step has not started yet"
        return Explanation(**base, **common, state="running", text=text)
    text, next_step = _running_text(facts, run, journey, trail)
    return Explanation(**base, **common, state="running", text=text, next_step=next_step)
