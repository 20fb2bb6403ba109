"""The journey report: the cohort's funnel per version and for the journey as a whole.

Figures come from `journey_funnel` and `send_funnel` (GROUP BYs in the database); this module
only lays them out along each version's steps and adds versions together.
"""

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import Connection
from sqlmodel import Session

from loyalflow.analytics.cohort import Cohort, goal_info
from loyalflow.analytics.journey_funnel import VersionCounts, version_counts
from loyalflow.analytics.journey_lookup import version_definitions
from loyalflow.analytics.journey_models import (
    Count,
    Funnel,
    JourneyReport,
    ReportPeriod,
    SendFunnel,
    StepFunnel,
)
from loyalflow.analytics.report_reads import DEFAULT_PARALLEL, report_reads
from loyalflow.analytics.report_scope import JOURNEY_SETTINGS
from loyalflow.analytics.send_funnel import SendCounts, SendKey, send_counts
from loyalflow.models.column_types import utcnow
from loyalflow.models.journey import Journey, SendStep

T = TypeVar("T")


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _counts(counter: Counter[str] | dict[str, int]) -> list[Count]:
    return [
        Count(label=k, count=v) for k, v in sorted(counter.items(), key=lambda i: (-i[1], i[0]))
    ]


def _steps(journey: Journey, counts: VersionCounts) -> list[StepFunnel]:
    kinds = {step.id: step.kind for step in journey.steps}
    order = [*kinds, *sorted((set(counts.reached) | set(counts.waiting)) - set(kinds))]
    return [
        StepFunnel(
            step_id=step,
            kind=kinds.get(step, "?"),
            reached=counts.reached.get(step, 0),
            waiting_now=counts.waiting.get(step, 0),
        )
        for step in order
    ]


def _sends(journey: Journey, sends: dict[tuple[str, str], SendCounts]) -> list[SendFunnel]:
    declared = [
        (step.id, channel)
        for step in journey.steps
        if isinstance(step, SendStep)
        for channel in step.channels
    ]
    order = [*declared, *sorted(set(sends) - set(declared))]
    rows = []
    for step, channel in order:
        c = sends.get((step, channel), SendCounts())
        delivered = c.sent - c.bounced
        rows.append(
            SendFunnel(
                step_id=step,
                channel=channel,
                sent=c.sent,
                delivered=delivered,
                bounced=c.bounced,
                opened=c.opened,
                clicked=c.clicked,
                open_rate=_rate(c.opened, delivered),
                click_rate=_rate(c.clicked, delivered),
                unsubscribed=c.unsubscribed,
                fell_back=c.fell_back,
                not_sent=_counts(c.not_sent),
            )
        )
    return rows


def _funnel(
    version: str | None,
    journey: Journey,
    counts: VersionCounts,
    sends: dict[tuple[str, str], SendCounts],
    has_goal: bool,
) -> Funnel:
    return Funnel(
        version=version,
        entered=counts.entered,
        in_progress=counts.in_progress,
        completed=counts.completed,
        exits=_counts(counts.exits),
        converted=counts.converted if has_goal else None,
        conversion_rate=_rate(counts.converted, counts.entered) if has_goal else None,
        revenue=counts.revenue if has_goal else None,
        steps=_steps(journey, counts),
        sends=_sends(journey, sends),
    )


def _add(total: VersionCounts, part: VersionCounts) -> None:
    total.entered += part.entered
    total.in_progress += part.in_progress
    total.completed += part.completed
    total.converted += part.converted
    total.revenue += part.revenue
    for mine, theirs in (
        (total.exits, part.exits),
        (total.reached, part.reached),
        (total.waiting, part.waiting),
    ):
        for key, value in theirs.items():
            mine[key] = mine.get(key, 0) + value


def _add_sends(total: SendCounts, part: SendCounts) -> None:
    total.sent += part.sent
    total.bounced += part.bounced
    total.opened += part.opened
    total.clicked += part.clicked
    total.unsubscribed += part.unsubscribed
    total.fell_back += part.fell_back
    total.not_sent.update(part.not_sent)


def _in_session(read: Callable[[Session], T]) -> Callable[[Connection], T]:
    """`read` takes an ORM session: one on the reads' connection."""

    def on(connection: Connection) -> T:
        with Session(bind=connection) as session:
            return read(session)

    return on


def journey_report(
    url: str, journey: Journey, period: ReportPeriod, parallel: int = DEFAULT_PARALLEL
) -> JourneyReport:
    """The entries' figures and the sends' are read at once (`report_reads`: one
    snapshot of the database for both)."""
    cohort = Cohort(journey.id, period)
    with report_reads(url, parallel, JOURNEY_SETTINGS) as reads:
        counted = reads.submit(_in_session(lambda s: version_counts(s, cohort, journey.goal)))
        sent = reads.submit(_in_session(lambda s: send_counts(s, cohort)))
        by_version = counted.result()
        sends: dict[SendKey, SendCounts] = sent.result()
        defined = reads.submit(_in_session(lambda s: version_definitions(s, journey, by_version)))
        definitions = defined.result()
    newest_first = sorted(
        by_version, key=lambda v: (by_version[v].first_entry is not None, by_version[v].first_entry)
    )[::-1]
    total, total_sends = VersionCounts(), dict[tuple[str, str], SendCounts]()
    versions = []
    for version in newest_first:
        _add(total, by_version[version])
        mine = {(s, c): counts for (v, s, c), counts in sends.items() if v == version}
        for key, counts in mine.items():
            _add_sends(total_sends.setdefault(key, SendCounts()), counts)
        versions.append(
            _funnel(
                version, definitions[version], by_version[version], mine, journey.goal is not None
            )
        )
    total.revenue = total.revenue.quantize(Decimal("0.01"))
    return JourneyReport(
        journey_id=journey.id,
        name=journey.name,
        period=period,
        goal=goal_info(journey.goal),
        generated_at=utcnow(),
        total=_funnel(None, journey, total, total_sends, journey.goal is not None),
        versions=versions,
    )
