"""GET /reports/journeys/{id} and /reports/experiments/{id}: a journey's funnel and an
experiment's verdict, as `loyalflow report journey|experiment --format json` prints them."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError

from loyalflow.analytics.experiment_report import MIN_PER_ARM
from loyalflow.analytics.journey_models import ExperimentReport, JourneyReport, ReportPeriod
from loyalflow.analytics.report_window import PeriodError, parse_moment, report_period
from loyalflow.analytics.results import experiment_report_by_id, journey_report_by_id
from loyalflow.api.deps import SettingsDep, TokenDep
from loyalflow.api.errors import error_responses

router = APIRouter(prefix="/reports", tags=["reports"])
Report = TypeVar("Report", JourneyReport, ExperimentReport)

JourneyIdPath = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
ExperimentIdPath = Annotated[
    str,
    Path(
        pattern=r"^[a-z][a-z0-9_.]*$",
        max_length=128,
        description="experiment name (unnamed splits: `journey.step`), or a journey with one split",
    ),
]
FromQuery = Annotated[
    str | None,
    Query(
        alias="from",
        description="entries from this date (YYYY-MM-DD) or ISO 8601 time; default 30 days ago",
        max_length=64,
    ),
]
ToQuery = Annotated[
    str | None,
    Query(
        alias="to",
        description="entries up to this date (inclusive) or ISO 8601 time; default now",
        max_length=64,
    ),
]


def _period(start: str | None, end: str | None) -> ReportPeriod:
    """The period, or a 422 naming `from` or `to`, shaped like every other validation error."""
    try:
        return report_period(
            parse_moment(start, "from") if start is not None else None,
            parse_moment(end, "to") if end is not None else None,
            datetime.now(UTC),
        )
    except (PeriodError, OverflowError) as exc:
        field = exc.field if isinstance(exc, PeriodError) else "to"
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", field), "msg": str(exc)}]
        ) from exc


async def _report_or_404(
    start: str | None,
    end: str | None,
    build: Callable[[ReportPeriod], Report | None],
    missing: str,
) -> Report:
    """Both reports' handling: a 422 for a bad period, the report built off the event loop (it
    runs SQL), a 404 saying `missing` ("no journey 'x'") when there is nothing by that id."""
    period = _period(start, end)
    report = await run_in_threadpool(build, period)
    if report is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, missing)
    return report


@router.get(
    "/journeys/{journey_id}",
    response_model=JourneyReport,
    dependencies=[TokenDep],
    responses=error_responses(401, 404),
)
async def read_journey_report(
    journey_id: JourneyIdPath,
    settings: SettingsDep,
    start: FromQuery = None,
    end: ToQuery = None,
) -> JourneyReport:
    """The funnel of the journey's entries in the period (all their outcomes, whenever they
    came): entered, in progress, completed, exits by reason, conversions and revenue within the
    goal window; per step, reached and waiting now; per send step and channel, sent, delivered,
    bounced, people's unique opens and clicks (rates over delivered), unsubscribes and what was
    not sent, by reason. For every version together and for each version."""
    return await _report_or_404(
        start,
        end,
        lambda period: journey_report_by_id(settings, journey_id, period),
        f"no journey {journey_id!r}",
    )


@router.get(
    "/experiments/{experiment_id}",
    response_model=ExperimentReport,
    dependencies=[TokenDep],
    responses=error_responses(401, 404),
)
async def read_experiment_report(
    experiment_id: ExperimentIdPath,
    settings: SettingsDep,
    start: FromQuery = None,
    end: ToQuery = None,
    min_per_arm: Annotated[
        int, Query(ge=1, le=10_000_000, description="entries every arm needs before a verdict")
    ] = MIN_PER_ARM,
) -> ExperimentReport:
    """Per variant of the split, for the entries in the period: entered, conversions and clicks
    with 95% Wilson intervals, absolute and relative lift against the control (the holdout when
    there is one) with 95% intervals, two-sided p-values, Holm-corrected across variants, and a
    one-sentence verdict ("not enough data yet" below `min_per_arm` entries in an arm)."""
    return await _report_or_404(
        start,
        end,
        lambda period: experiment_report_by_id(settings, experiment_id, period, min_per_arm),
        f"no experiment {experiment_id!r}",
    )
