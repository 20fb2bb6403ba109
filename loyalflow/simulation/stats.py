"""What a demo run did, read back from the database: messages, skips, journeys, experiments.

Conversion is measured from the Event rows for every variant alike: an entry converted when the
journey's `goal` event arrived after it entered and within the goal's window. (The holdout exits
at once, so its runs never see the goal themselves; it is the baseline all the same.)
"""

import math
import re
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from statistics import NormalDist
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, exists
from sqlalchemy import select as sa_select  # sqlmodel types select() up to four columns
from sqlalchemy.orm import aliased
from sqlmodel import col, func, select

from loyalflow.catalog.registry import get_catalog
from loyalflow.models.db import session_scope
from loyalflow.models.journey import Journey, SplitStep
from loyalflow.models.tables import Enrollment, Event, Member, Message

if TYPE_CHECKING:
    from loyalflow.simulation.environment import Simulation

# A message skipped on one channel whose step then sent on another (an SMS to a member without a
# phone, sent by email instead) fell back: the member was reached, it is no skip.
_OTHER = aliased(Message)
_FELL_BACK = (
    exists()
    .where(
        col(_OTHER.workflow_id) == col(Message.workflow_id),
        col(_OTHER.step_id) == col(Message.step_id),
        col(_OTHER.channel) != col(Message.channel),
    )
    .correlate(Message)
)
_OUTCOME = case(
    (and_(col(Message.status) == "skipped", _FELL_BACK), "fallback"), else_=col(Message.status)
).label("outcome")
_DATES = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2})?(?: UTC)?")


@dataclass(frozen=True)
class MessageCount:
    journey: str
    step: str
    channel: str
    statuses: dict[str, int]

    @property
    def sent(self) -> int:
        return self.statuses.get("sent", 0) + self.statuses.get("delivered", 0)


@dataclass(frozen=True)
class VariantResult:
    variant: str
    entered: int
    converted: int
    versus: str | None = None  # the reference variant the test compares with
    z: float | None = None
    p_value: float | None = None

    @property
    def rate(self) -> float:
        return self.converted / self.entered if self.entered else 0.0


@dataclass(frozen=True)
class Experiment:
    journey: str
    experiment: str
    goal: str
    variants: list[VariantResult]


@dataclass
class Summary:
    start: datetime
    days: int
    members: int
    events: dict[str, int]
    entries: dict[str, int]
    exits: dict[str, dict[str, int]]
    messages: list[MessageCount]
    skips: list[tuple[str, int]]
    experiments: list[Experiment] = field(default_factory=list)

    @property
    def channels(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for row in self.messages:
            totals[row.channel] += row.sent
        return dict(totals)


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float] | None:
    """(z, two-sided p) of the difference between x1/n1 and x2/n2; None when undefined."""
    if not n1 or not n2:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    z = (x1 / n1 - x2 / n2) / se
    return z, 2 * (1 - NormalDist().cdf(abs(z)))


def _split(journey: Journey) -> SplitStep | None:
    return next((s for s in journey.steps if isinstance(s, SplitStep)), None)


def _experiment(
    journey: Journey, entries: list[Enrollment], goals: dict[str, list[datetime]]
) -> Experiment | None:
    split = _split(journey)
    if split is None:
        return None
    names = [name for name, _ in split.groups]
    entered: Counter[str] = Counter()
    converted: Counter[str] = Counter()
    for entry in entries:
        if entry.variant is None:
            continue
        entered[entry.variant] += 1
        if journey.goal is not None:
            times = goals.get(entry.member_id, [])
            after = bisect_right(times, entry.entered_at)
            if after < len(times) and times[after] <= entry.entered_at + journey.goal.within:
                converted[entry.variant] += 1
    reference = "holdout" if "holdout" in names else names[0]
    results = []
    for name in names:
        test = None
        if name != reference:
            test = two_proportion_z(
                converted[name], entered[name], converted[reference], entered[reference]
            )
        results.append(
            VariantResult(
                variant=name,
                entered=entered[name],
                converted=converted[name],
                versus=reference if name != reference else None,
                z=test[0] if test else None,
                p_value=test[1] if test else None,
            )
        )
    return Experiment(
        journey=journey.id,
        experiment=split.experiment or f"{journey.id}.{split.id}",
        goal=f"{journey.goal.event} within {journey.goal.within.days}d" if journey.goal else "-",
        variants=results,
    )


def summarise(sim: "Simulation", days: int) -> Summary:
    url = sim.url
    catalog = get_catalog(sim.settings)
    with session_scope(url) as session:
        members = session.exec(select(func.count()).select_from(Member)).one()
        events = dict(
            session.exec(
                select(Event.type, func.count())
                .where(col(Event.occurred_at) >= sim.started_at)
                .group_by(col(Event.type))
            ).all()
        )
        enrollments = list(session.exec(select(Enrollment)))
        statuses: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
        for journey_id, step_id, channel, outcome, count in session.connection().execute(
            sa_select(
                col(Message.journey_id),
                col(Message.step_id),
                col(Message.channel),
                _OUTCOME,
                func.count(),
            ).group_by(
                col(Message.journey_id), col(Message.step_id), col(Message.channel), _OUTCOME
            )
        ):
            statuses[(journey_id, step_id, channel)][outcome] = count
        skips: Counter[str] = Counter()
        for reason, count in session.exec(
            select(col(Message.reason), func.count())
            .where(_OUTCOME == "skipped")
            .group_by(col(Message.reason))
        ):
            skips[_DATES.sub("…", reason or "(no reason)")] += count
        goal_types = {j.goal.event for j in catalog.journeys.values() if j.goal}
        goals: dict[str, list[datetime]] = defaultdict(list)
        for member_id, occurred_at in session.exec(
            select(Event.member_id, Event.occurred_at).where(col(Event.type).in_(goal_types))
        ):
            goals[member_id].append(occurred_at)
    for times in goals.values():
        times.sort()
    by_journey: dict[str, list[Enrollment]] = defaultdict(list)
    exits: dict[str, Counter[str]] = defaultdict(Counter)
    for entry in enrollments:
        by_journey[entry.journey_id].append(entry)
        exits[entry.journey_id][entry.exit_reason or "(still running)"] += 1
    experiments = [
        e
        for journey in sorted(catalog.journeys.values(), key=lambda j: j.id)
        if (e := _experiment(journey, by_journey.get(journey.id, []), goals)) is not None
    ]
    return Summary(
        start=sim.started_at,
        days=days,
        members=members,
        events=dict(sorted(events.items())),
        entries={j: len(by_journey.get(j, [])) for j in sorted(catalog.journeys)},
        exits={j: dict(c.most_common()) for j, c in sorted(exits.items())},
        messages=[
            MessageCount(journey, step, channel, dict(counts))
            for (journey, step, channel), counts in sorted(statuses.items())
        ],
        skips=skips.most_common(),
        experiments=experiments,
    )
