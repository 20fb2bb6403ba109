"""The experiment report of one split step: per arm, entries, conversions and clicks (one GROUP
BY over the cohort), compared with the control by `experiment_stats`, and a one-sentence verdict.

An entry is in the experiment when its run reached the split step; its arm is the member's
recorded assignment (stable across re-entries). Conversion is the journey's goal (`cohort.py`);
a click is a person clicking any message of the run. The conversion control is the holdout when
there is one (it receives nothing: the baseline), else the first variant; clicks are compared
with the first variant, as the holdout has nothing to click.
"""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from loyalflow.analytics.cohort import Cohort, goal_events_join, goal_info
from loyalflow.analytics.experiment_stats import ALPHA, Arm, compare
from loyalflow.analytics.journey_lookup import experiment_name
from loyalflow.analytics.journey_models import (
    Comparison,
    ExperimentReport,
    ReportPeriod,
    VariantResult,
)
from loyalflow.analytics.report_scope import report_scope
from loyalflow.models.column_types import utcnow
from loyalflow.models.journey import Journey, SplitStep
from loyalflow.models.tables import Enrollment, ExperimentAssignment, JourneyStep, Message

# Below this many entries in an arm, no verdict: an interval that wide decides nothing, and the
# normal approximation behind the z-test is poor (README, "Results: journeys and experiments").
MIN_PER_ARM = 100
HOLDOUT = "holdout"


def arm_counts(
    url: str, journey: Journey, split: SplitStep, period: ReportPeriod
) -> dict[str, tuple[int, int, int]]:
    """variant -> (entered, converted, clicked)."""
    assignment = ExperimentAssignment
    cohort = Cohort(journey.id, period)
    # The runs that reached the split: one range of the period's step rows, not a probe per entry.
    reached_split = col(Enrollment.workflow_id).in_(
        select(col(JourneyStep.workflow_id)).where(
            cohort.step_rows(), col(JourneyStep.step_id) == split.id
        )
    )
    # One row per entry, its goal events and clicked messages joined (not EXISTS subqueries:
    # PostgreSQL runs correlated subqueries in the leader only, so joins let its parallel
    # workers share the probes), then one row per arm.
    clicks = aliased(Message)
    flags: list[ColumnElement[Any]] = [
        func.max(case((col(clicks.workflow_id).is_not(None), 1), else_=0)).label("clicked")
    ]
    entry: Select[Any] = (
        select(col(assignment.variant).label("variant"))
        .select_from(Enrollment)
        .join(
            assignment,
            and_(
                col(assignment.experiment) == experiment_name(journey, split),
                col(assignment.member_id) == col(Enrollment.member_id),
            ),
        )
        .outerjoin(
            clicks,
            and_(
                col(clicks.workflow_id) == col(Enrollment.workflow_id),
                col(clicks.first_clicked_at).is_not(None),
            ),
        )
    )
    goal = journey.goal
    if goal is not None and goal.condition:  # only the runs evaluate a condition
        flags.append(
            func.max(case((col(Enrollment.converted_at).is_not(None), 1), else_=0)).label(
                "converted"
            )
        )
    elif goal is not None:
        event, window = goal_events_join(goal, revenue=False)
        entry = entry.outerjoin(event, window)
        flags.append(
            func.max(case((event.c.member_id.is_not(None), 1), else_=0)).label("converted")
        )
    else:
        flags.append(literal(0).label("converted"))
    rows = (
        entry.add_columns(*flags)
        .where(cohort.where(), reached_split)
        .group_by(col(Enrollment.workflow_id), col(assignment.variant))
        .subquery("entry")
    )
    query = select(
        rows.c.variant,
        func.count(),
        func.coalesce(func.sum(rows.c.converted), 0),
        func.coalesce(func.sum(rows.c.clicked), 0),
    ).group_by(rows.c.variant)
    with report_scope(url) as session:
        return {v: (int(n), int(c), int(k)) for v, n, c, k in session.execute(query)}


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


@dataclass(frozen=True)
class Verdict:
    """`text`: the English sentence with `{name}` placeholders for `values`; it is also the key of
    its translations (the console's catalogue), so the sentence is read in the reader's language."""

    enough_data: bool
    text: str
    values: dict[str, str] = field(default_factory=dict)

    @property
    def sentence(self) -> str:
        return self.text.format(**self.values)


def verdict(
    results: list[VariantResult],
    control: str,
    min_per_arm: int,
    has_goal: bool,
    arms: int | None = None,
) -> Verdict:
    """`arms`: how many of `results`, first, the split has now."""
    # Arms the split no longer has (an earlier version's) are shown but wait for no one.
    small = min(results[:arms] if arms else results, key=lambda r: r.entered)
    if small.entered < min_per_arm:
        return Verdict(
            False,
            "Not enough data yet: every arm needs at least {minimum} entries "
            "({variant} has {entered}).",
            {"minimum": str(min_per_arm), "variant": small.variant, "entered": str(small.entered)},
        )
    if not has_goal:
        return Verdict(
            True, "The journey has no goal, so no arm can win on conversion; see clicks."
        )
    reference = next(r for r in results if r.variant == control)
    assert reference.conversion is not None
    winners = [r for r in results if r.conversion is not None and r.conversion.significant]
    if not winners:
        smallest = min(
            (
                r.conversion.p_value_holm
                for r in results
                if r.conversion and r.conversion.p_value_holm
            ),
            default=None,
        )
        if smallest is None:
            return Verdict(
                True,
                "No variant converts differently from {control} at the 5% level yet.",
                {"control": control},
            )
        return Verdict(
            True,
            "No variant converts differently from {control} at the 5% level yet "
            "(smallest Holm-adjusted p = {p}).",
            {"control": control, "p": f"{smallest:.3f}"},
        )
    best = max(winners, key=lambda r: abs(r.conversion.lift or 0) if r.conversion else 0)
    conv = best.conversion
    assert conv is not None and conv.lift is not None and conv.p_value_holm is not None
    better = (
        "{variant} converts better than {control}: {rate} vs {control_rate} "
        "({lift} points, Holm-adjusted p = {p})."
    )
    worse = (
        "{variant} converts worse than {control}: {rate} vs {control_rate} "
        "({lift} points, Holm-adjusted p = {p})."
    )
    return Verdict(
        True,
        better if conv.lift > 0 else worse,
        {
            "variant": best.variant,
            "control": control,
            "rate": _percent(conv.rate),
            "control_rate": _percent(reference.conversion.rate),
            "lift": f"{conv.lift * 100:+.1f}",
            "p": f"{conv.p_value_holm:.3f}",
        },
    )


def experiment_report(
    url: str,
    journey: Journey,
    split: SplitStep,
    period: ReportPeriod,
    min_per_arm: int = MIN_PER_ARM,
) -> ExperimentReport:
    counts = arm_counts(url, journey, split, period)
    names = [name for name, _ in split.groups]
    names += sorted(set(counts) - set(names))  # arms of an earlier version of the split
    control = HOLDOUT if HOLDOUT in names else names[0]
    zero = (0, 0, 0)
    conversion: dict[str, Comparison] = {}
    if journey.goal is not None:
        arms = [Arm(n, counts.get(n, zero)[1], counts.get(n, zero)[0]) for n in names]
        conversion = compare(arms, control, ALPHA)
    clickable = [n for n in names if n != HOLDOUT]
    click_control = clickable[0] if clickable else None
    clicks: dict[str, Comparison] = {}
    if click_control is not None:
        arms = [Arm(n, counts.get(n, zero)[2], counts.get(n, zero)[0]) for n in clickable]
        clicks = compare(arms, click_control, ALPHA)
    results = [
        VariantResult(
            variant=name,
            entered=counts.get(name, zero)[0],
            control=name == control,
            conversion=conversion.get(name),
            clicks=clicks.get(name),
        )
        for name in names
    ]
    decided = verdict(
        results, control, min_per_arm, journey.goal is not None, arms=len(split.groups)
    )
    return ExperimentReport(
        journey_id=journey.id,
        split_step=split.id,
        experiment=experiment_name(journey, split),
        period=period,
        goal=goal_info(journey.goal),
        generated_at=utcnow(),
        alpha=ALPHA,
        min_per_arm=min_per_arm,
        control=control,
        click_control=click_control,
        enough_data=decided.enough_data,
        variants=results,
        verdict=decided.sentence,
        verdict_text=decided.text,
        verdict_values=decided.values,
    )
