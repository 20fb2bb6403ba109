"""GET /reports/kpis: the program KPI report as JSON (the shape `loyalflow report kpis
--format json` prints), for the web console and other tools."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from loyalflow.analytics.kpi_models import GroupBy, KpiReport
from loyalflow.analytics.kpi_period import PeriodError, parse_period
from loyalflow.analytics.kpis import kpi_report
from loyalflow.api.deps import SettingsDep, TokenDep
from loyalflow.api.errors import error_responses
from loyalflow.rules.loyalty import rules_from

router = APIRouter(prefix="/reports", tags=["reports"])

_INSTANT = "a date (YYYY-MM-DD, UTC) or an ISO 8601 time with an offset"


class KpiQuery(BaseModel):
    """The query string; an unknown parameter is refused (422), not ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    start: str | None = Field(
        None, alias="from", max_length=40, description=f"{_INSTANT}; default: 30 days before `to`"
    )
    end: str | None = Field(
        None,
        alias="to",
        max_length=40,
        description=f"{_INSTANT}; a date includes that day; default: now",
    )
    by: GroupBy | None = Field(None, description="figures per current tier or locale")


@router.get(
    "/kpis",
    response_model=KpiReport,
    dependencies=[TokenDep],
    responses={
        **error_responses(401),
        422: {"description": "a bad or unknown query parameter (named)"},
    },
)
async def read_kpis(settings: SettingsDep, query: Annotated[KpiQuery, Query()]) -> KpiReport:
    """Members, purchases, points, tiers, retention cohorts and RFM for the period; each KPI's
    definition is in the README ("Results: KPIs")."""
    try:
        period = parse_period(query.start, query.end)
    except PeriodError as error:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", error.field), "msg": error.message}]
        ) from None
    rules = rules_from(settings.loyalty_rules_file)
    return await run_in_threadpool(
        kpi_report, settings.effective_database_url, rules, period, query.by
    )
