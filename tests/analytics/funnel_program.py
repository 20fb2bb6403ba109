"""A hand-made journey history for the funnel and experiment tests: six entries of one journey,
their step rows, messages, assignments and events, each placed to exercise one definition."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.journey import Journey
from loyalflow.models.tables import (
    Enrollment,
    Event,
    ExperimentAssignment,
    JourneyStep,
    JourneyVersion,
    Message,
)
from tests.journey_helpers import create_member

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def journey_definition(journey_id: str) -> Journey:
    return Journey.model_validate(
        {
            "id": journey_id,
            "name": "Funnel test",
            "trigger": {"event": "member.joined"},
            "topic": "offers",
            "goal": {"event": "purchase", "within": "7d"},
            "steps": [
                {
                    "id": "split",
                    "kind": "split",
                    "variants": [{"name": "a", "weight": 45}, {"name": "b", "weight": 45}],
                    "holdout": 10,
                },
                {"id": "email_1", "kind": "send", "channel": "email", "template": "welcome"},
                {"id": "pause", "kind": "wait", "duration": "3d"},
                {
                    "id": "reminder",
                    "kind": "send",
                    "channel": "sms",
                    "fallback": "email",
                    "template": "welcome_reminder",
                },
            ],
        }
    )


@dataclass
class Program:
    journey: Journey
    members: dict[str, str]  # short name -> member id
    rows: list[Any]

    def member(self, name: str) -> str:
        return self.members[name]


def build(settings: Settings) -> Program:
    tag = uuid.uuid4().hex[:8]
    journey = journey_definition(f"funnel_{tag}")
    version = journey.version
    names = ["m1", "m2", "m3", "m4", "m5", "m6"]
    members = {n: f"{tag}-{n}" for n in names}
    for member_id in members.values():
        create_member(settings, member_id, email=f"{member_id}@example.com")
    rows: list[Any] = []
    experiment = f"{journey.id}.split"

    def enrollment(name: str, entered: datetime, variant: str, *, current: str,
                   exit_reason: str | None = None, version_: str = version) -> str:  # fmt: skip
        workflow = f"journey-{journey.id}-{members[name]}"
        rows.append(
            Enrollment(
                workflow_id=workflow,
                journey_id=journey.id,
                journey_version=version_,
                member_id=members[name],
                entered_at=entered,
                current_step=current,
                exited_at=entered + 4 * DAY if exit_reason else None,
                exit_reason=exit_reason,
                variant=variant,
            )
        )
        rows.append(ExperimentAssignment(experiment=experiment, member_id=members[name],
                                         variant=variant, at=entered))  # fmt: skip
        return workflow

    def steps(workflow: str, name: str, entered: datetime, *step_ids: str) -> None:
        for offset, step in enumerate(step_ids):
            rows.append(JourneyStep(workflow_id=workflow, member_id=members[name],
                                    journey_id=journey.id, step_id=step,
                                    at=entered + offset * HOUR))  # fmt: skip

    def message(workflow: str, name: str, step: str, channel: str, status: str,
                sent_at: datetime | None, **extra: Any) -> None:  # fmt: skip
        rows.append(
            Message(
                message_id=uuid.uuid4().hex,
                member_id=members[name],
                journey_id=journey.id,
                workflow_id=workflow,
                step_id=step,
                channel=channel,
                template="welcome",
                topic="offers",
                status=status,
                sent_at=sent_at,
                **extra,
            )
        )

    def event(name: str, type: str, at: datetime, **properties: Any) -> None:
        rows.append(Event(event_id=f"{tag}-{uuid.uuid4().hex}", member_id=members[name],
                          type=type, occurred_at=at, properties=properties))  # fmt: skip

    # m1: variant a, completed every step; clicked the first email; the SMS reminder could not
    # go (no phone), the email fallback did; bought 2 days in (converted, 30.00), then unsubscribed
    # after the reminder (the last message before it gets the blame).
    w1 = enrollment("m1", T0, "a", current="reminder", exit_reason="completed")
    steps(w1, "m1", T0, "split", "email_1", "pause", "reminder")
    message(w1, "m1", "email_1", "email", "sent", T0 + HOUR,
            first_opened_at=T0 + 2 * HOUR, first_clicked_at=T0 + 2 * HOUR)  # fmt: skip
    message(w1, "m1", "reminder", "sms", "skipped", None, reason="no phone number",
            fallback_ok=True)  # fmt: skip
    message(w1, "m1", "reminder", "email", "sent", T0 + 3 * DAY)
    event("m1", "purchase", T0 + 2 * DAY, amount=30)
    event("m1", "consent.updated", T0 + 3 * DAY + HOUR,
          channel="email", topic="offers", status="revoked")  # fmt: skip
    # m2: variant b, still waiting in `pause`; the email bounced; bought on day 8 (too late).
    w2 = enrollment("m2", T0 + HOUR, "b", current="pause")
    steps(w2, "m2", T0 + HOUR, "split", "email_1", "pause")
    message(w2, "m2", "email_1", "email", "bounced", T0 + 2 * HOUR, reason="bounced: 5.1.1")
    event("m2", "purchase", T0 + HOUR + 7 * DAY + timedelta(seconds=1), amount=99)
    # m3: the holdout, exits at once; bought the next day: a conversion of the baseline (12.50).
    w3 = enrollment("m3", T0 + 2 * HOUR, "holdout", current="split", exit_reason="holdout")
    steps(w3, "m3", T0 + 2 * HOUR, "split")
    event("m3", "purchase", T0 + 2 * HOUR + DAY, amount=12.5)
    # m4: entered before the period: in no figure.
    w4 = enrollment("m4", T0 - 2 * DAY, "a", current="email_1")
    steps(w4, "m4", T0 - 2 * DAY, "split", "email_1")
    message(w4, "m4", "email_1", "email", "sent", T0 - 2 * DAY)
    event("m4", "purchase", T0 - DAY, amount=1000)
    # m5: an older version of the journey, variant a; opened (no click) then unsubscribed; a
    # purchase exited the run but it came before the entry: no conversion.
    w5 = enrollment("m5", T0 + 3 * HOUR, "a", current="email_1",
                    exit_reason="exit_when: purchase", version_="oldversion01")  # fmt: skip
    steps(w5, "m5", T0 + 3 * HOUR, "split", "email_1")
    message(w5, "m5", "email_1", "email", "sent", T0 + 4 * HOUR, first_opened_at=T0 + 5 * HOUR)
    event("m5", "consent.updated", T0 + 6 * HOUR, channel="email", topic="offers",
          status="revoked")  # fmt: skip
    event("m5", "purchase", T0 + 2 * HOUR, amount=40)
    # m6: variant a, its email deferred by quiet hours (waiting in email_1); bought exactly at the
    # end of the 7-day window (the window includes its end: converted, 20.00), and again after.
    w6 = enrollment("m6", T0 + 4 * HOUR, "a", current="email_1")
    steps(w6, "m6", T0 + 4 * HOUR, "split", "email_1")
    message(w6, "m6", "email_1", "email", "deferred", None,
            reason="quiet hours until 2026-03-02 21:00 UTC")  # fmt: skip
    event("m6", "purchase", T0 + 4 * HOUR + 7 * DAY, amount=20)
    event("m6", "purchase", T0 + 4 * HOUR + 7 * DAY + timedelta(microseconds=1), amount=5)
    with session_scope(settings.effective_database_url) as session:
        session.add_all(rows)
    return Program(journey, members, rows)


def published(settings: Settings) -> Program:
    """The program, its journey published as `loyalflow up` publishes the loaded ones."""
    program = build(settings)
    with session_scope(settings.effective_database_url) as session:
        session.add(
            JourneyVersion(
                journey_id=program.journey.id,
                version=program.journey.version,
                definition=program.journey.model_dump(mode="json"),
            )
        )
    return program
