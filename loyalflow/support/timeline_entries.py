"""The entries of a member's timeline, one function per source: events (with points and tier
changes), journey runs (entered, steps, goal, exit), the message ledger, consents, suppressions
and support actions.
"""

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from sqlmodel import Session, select

from loyalflow.catalog.text import describe_step
from loyalflow.config import Settings
from loyalflow.models.journey import Journey, SplitStep
from loyalflow.models.tables import (
    Consent,
    Enrollment,
    Event,
    JourneyStep,
    JourneyVersion,
    Member,
    Message,
    SupportAction,
    Suppression,
    normalise_address,
)
from loyalflow.models.timeline import TimelineEntry
from loyalflow.models.workflow_io import TrailEntry
from loyalflow.rules.loyalty import LoyaltyRules

NOT_SENT = {"skipped", "deferred"}
# Trail outcomes the database already tells (ledger, enrollment): not repeated from the query.
TOLD_BY_DB = {"sent", "skipped", "failed", "deferred", "variant", "exit", "converted", "requested"}


def run_link(settings: Settings, workflow_id: str) -> str:
    """The run in the Temporal Web UI (LOYALFLOW_TEMPORAL_UI_URL, default the embedded UI)."""
    namespace = quote(settings.temporal_namespace, safe="")
    return (
        f"{settings.effective_temporal_ui_url}/namespaces/{namespace}/workflows/"
        f"{quote(workflow_id, safe='')}"
    )


def load_definition(session: Session, journey_id: str, version: str) -> Journey | None:
    row = session.get(JourneyVersion, (journey_id, version))
    return Journey.model_validate(row.definition) if row is not None else None


def as_number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def event_entry(event: Event, rules: LoyaltyRules) -> TimelineEntry:
    props = event.properties
    kind: Any = "event"
    summary = event.type
    if event.type == "purchase":
        amount = as_number(props.get("amount"))
        points = rules.points_for(amount) if amount is not None else 0
        word = "refund" if amount is not None and amount < 0 else "purchase"
        summary = f"{word} of {props.get('amount')} ({points:+d} points)"
        kind = "points"
    elif event.type == "points.adjusted":
        kind, summary = "points", f"points adjusted {int(props.get('points', 0)):+d}"
        if event.event_id.startswith("journey/"):
            summary += " by a journey step"
    elif event.type in ("tier.upgraded", "tier.downgraded"):
        word = event.type.split(".")[1]
        kind, summary = "tier", f"tier {word}: {props.get('from') or 'none'} -> {props.get('to')}"
    elif event.type == "consent.updated":
        source = f" (source: {props['source']})" if props.get("source") else ""
        kind = "consent"
        summary = (
            f"{props.get('channel')} consent for {props.get('topic')} {props.get('status')}{source}"
        )
    elif event.type == "purchase.first":
        summary = "first purchase"
    elif event.type == "member.inactive":
        summary = f"inactive for {props.get('days')} days"
    elif event.type == "member.joined":
        summary = "joined the program"
    return TimelineEntry(at=event.occurred_at, kind=kind, summary=summary, event_id=event.event_id)


def message_entry(settings: Settings, row: Message) -> TimelineEntry:
    subject = f' "{row.subject}"' if row.subject else ""
    reason = f": {row.reason}" if row.reason else ""
    not_sent = row.status in NOT_SENT
    verb = "not sent" if row.status == "skipped" else row.status
    return TimelineEntry(
        at=row.sent_at if row.sent_at and not not_sent else row.created_at,
        kind="not_sent" if not_sent else "message",
        summary=f"{row.channel} {row.template}{subject} {verb}{reason}",
        journey_id=row.journey_id,
        workflow_id=row.workflow_id,
        step_id=row.step_id,
        message_id=row.message_id,
        channel=row.channel,
        status=row.status,
        reason=row.reason,
        variant=row.variant,
        link=run_link(settings, row.workflow_id),
    )


def run_common(settings: Settings, run: Enrollment) -> dict[str, Any]:
    """The fields every entry of one run carries."""
    link = run_link(settings, run.workflow_id)
    return {"journey_id": run.journey_id, "workflow_id": run.workflow_id, "link": link}


def entered_entry(settings: Settings, run: Enrollment, trigger: Event | None) -> TimelineEntry:
    because = f" on {trigger.type}" if trigger else ""
    return TimelineEntry(
        at=run.entered_at,
        kind="journey_entered",
        summary=f"entered journey {run.journey_id} (entry {run.entry}, version "
        f"{run.journey_version}){because}",
        event_id=run.trigger_event_id,
        **run_common(settings, run),
    )


def step_entries(
    settings: Settings, run: Enrollment, journey: Journey | None, row: JourneyStep
) -> list[TimelineEntry]:
    """A step the run entered (with the holdout's "no message" when it was one)."""
    common = run_common(settings, run)
    step = next((s for s in journey.steps if s.id == row.step_id), None) if journey else None
    summary = f"step {row.step_id}" + (f" ({describe_step(step)})" if step else "")
    variant = None
    if isinstance(step, SplitStep) and run.variant:
        variant = run.variant
        summary += f": variant {run.variant}"
    out = [
        TimelineEntry(
            at=row.at,
            kind="journey_step",
            summary=summary,
            step_id=row.step_id,
            variant=variant,
            **common,
        )
    ]
    if isinstance(step, SplitStep) and run.variant == "holdout":
        experiment = step.experiment or f"{run.journey_id}.{step.id}"
        out.append(
            TimelineEntry(
                at=row.at,
                kind="not_sent",
                summary=f"no message: holdout group of {experiment} (receives nothing, by design)",
                step_id=row.step_id,
                status="holdout",
                reason="holdout",
                variant="holdout",
                **common,
            )
        )
    return out


def trail_entries(
    settings: Settings, run: Enrollment, trail: list[TrailEntry] | None
) -> list[TimelineEntry]:
    """What only the running workflow knows (waits, branch choices), from its `trail` query."""
    common = run_common(settings, run)
    out = []
    for entry in trail or []:
        if entry.outcome in TOLD_BY_DB:
            continue
        detail = f": {entry.detail}" if entry.detail else ""
        out.append(
            TimelineEntry(
                at=entry.at,
                kind="journey_step",
                summary=f"step {entry.step} {entry.outcome}{detail}",
                step_id=entry.step,
                **common,
            )
        )
    return out


def goal_entry(settings: Settings, run: Enrollment) -> TimelineEntry | None:
    if run.converted_at is None:
        return None
    return TimelineEntry(
        at=run.converted_at,
        kind="goal",
        summary=f"reached the goal of journey {run.journey_id}",
        event_id=run.goal_event_id,
        **run_common(settings, run),
    )


def exit_entry(settings: Settings, run: Enrollment) -> TimelineEntry | None:
    if run.exited_at is None:
        return None
    return TimelineEntry(
        at=run.exited_at,
        kind="journey_exited",
        summary=f"left journey {run.journey_id}: {run.exit_reason}",
        reason=run.exit_reason,
        variant=run.variant,
        **run_common(settings, run),
    )


def run_entries(
    settings: Settings,
    session: Session,
    run: Enrollment,
    events: dict[str, Event],
    steps: list[JourneyStep],
    trail: list[TrailEntry] | None,
) -> list[TimelineEntry]:
    journey = load_definition(session, run.journey_id, run.journey_version)
    out = [entered_entry(settings, run, events.get(run.trigger_event_id or ""))]
    for row in steps:
        out += step_entries(settings, run, journey, row)
    out += trail_entries(settings, run, trail)
    out += [e for e in (goal_entry(settings, run), exit_entry(settings, run)) if e is not None]
    return out


def consent_entries(session: Session, member_id: str, events: list[Event]) -> list[TimelineEntry]:
    """Current consents that no `consent.updated` event explains (e.g. imported rows)."""
    told = {
        (e.properties.get("channel"), e.properties.get("topic"), e.properties.get("status"))
        for e in events
        if e.type == "consent.updated"
    }
    rows = session.exec(select(Consent).where(Consent.member_id == member_id))
    return [consent_entry(row) for row in rows if (row.channel, row.topic, row.status) not in told]


def consent_entry(row: Consent) -> TimelineEntry:
    return TimelineEntry(
        at=row.at,
        kind="consent",
        summary=f"{row.channel} consent for {row.topic} {row.status}"
        + (f" (source: {row.source})" if row.source else ""),
        channel=row.channel,
        status=row.status,
    )


def suppression_entries(session: Session, member: Member) -> list[TimelineEntry]:
    out = []
    for channel, address in (("email", member.email), ("sms", member.phone)):
        if not address:
            continue
        row = session.get(Suppression, (normalise_address(channel, address), channel))
        if row is not None:
            out.append(
                TimelineEntry(
                    at=row.at,
                    kind="suppression",
                    summary=f"{channel} address suppressed: {row.reason}",
                    channel=channel,
                    reason=row.reason,
                )
            )
    return out


def support_entries(settings: Settings, session: Session, member_id: str) -> list[TimelineEntry]:
    rows = session.exec(select(SupportAction).where(SupportAction.member_id == member_id))
    return [support_entry(settings, row) for row in rows]


def support_entry(settings: Settings, row: SupportAction) -> TimelineEntry:
    if row.action == "retry_send":
        summary = f"message {row.message_id} re-sent as {row.new_message_id} by {row.by}"
    else:
        summary = f"{row.action.replace('_', ' ')} by {row.by}"
    if row.detail:
        summary += f": {row.detail}"
    return TimelineEntry(
        at=row.at,
        kind="support",
        summary=summary,
        workflow_id=row.workflow_id,
        message_id=row.new_message_id or row.message_id,
        by=row.by,
        link=run_link(settings, row.workflow_id) if row.workflow_id else None,
    )
