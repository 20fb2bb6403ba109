"""KPI snapshots: the program KPI report (`kpis.kpi_report`, the code of `GET /reports/kpis`)
computed once and stored, so that a dashboard reads one row instead of computing it while the
page waits (seconds at a million members; issue 18, "Performance").

The dashboard's periods are whole UTC days. Its presets end with yesterday, the last day the
daily rollup covers, so the rollup's run computes them once a day (`refresh_presets`) and they
hold all day. A snapshot is fresh when it was computed after its period ended, or less than
`FRESH_FOR` ago (a period that was still running then).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import col, select

from loyalflow.analytics.kpi_models import GroupBy, KpiReport, Period
from loyalflow.analytics.kpis import kpi_report
from loyalflow.models.db import read_scope, session_scope, upsert_into
from loyalflow.models.rollup_tables import table_of
from loyalflow.models.snapshot_tables import NO_GROUPING, KpiSnapshot
from loyalflow.rules.loyalty import LoyaltyRules

PRESET_DAYS = (7, 30, 90)
DEFAULT_PRESET = 30
FRESH_FOR = timedelta(hours=1)
snapshots = table_of(KpiSnapshot)


@dataclass(frozen=True)
class Snapshot:
    report: KpiReport
    computed_at: datetime

    def fresh(self, now: datetime | None = None) -> bool:
        if self.computed_at >= self.report.period.end:
            return True
        return (now or datetime.now(UTC)) - self.computed_at < FRESH_FOR


def day_period(first: date, last: date) -> Period:
    """From the start of `first` to the end of `last` (UTC), as `?from=first&to=last` reads."""
    return Period(
        start=datetime.combine(first, time(), tzinfo=UTC),
        end=datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC),
    )


def preset_period(days: int, today: date) -> Period:
    """The `days` whole days before `today`."""
    return day_period(today - timedelta(days=days), today - timedelta(days=1))


def stored_snapshot(url: str, period: Period, by: GroupBy | None) -> Snapshot | None:
    statement = select(KpiSnapshot).where(
        col(KpiSnapshot.period_start) == period.start,
        col(KpiSnapshot.period_end) == period.end,
        col(KpiSnapshot.grouping) == (by or NO_GROUPING),
    )
    with read_scope(url) as session:
        row = session.exec(statement).first()
    if row is None:
        return None
    return Snapshot(KpiReport.model_validate_json(row.report), row.computed_at)


def save_snapshot(url: str, report: KpiReport) -> Snapshot:
    """Stores `report` as its period's snapshot, replacing an older one (an upsert: a dashboard
    and the rollup may compute the same period at once)."""
    values = {
        "period_start": report.period.start,
        "period_end": report.period.end,
        "grouping": report.by or NO_GROUPING,
        "computed_at": report.generated_at,
        "report": report.model_dump_json(),
    }
    with session_scope(url) as session:
        statement = upsert_into(session.connection().dialect.name, snapshots).values(**values)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["period_start", "period_end", "grouping"],
                set_={"computed_at": values["computed_at"], "report": values["report"]},
            )
        )
    return Snapshot(report, report.generated_at)


def compute_snapshot(
    url: str, rules: LoyaltyRules, period: Period, by: GroupBy | None = None
) -> Snapshot:
    return save_snapshot(url, kpi_report(url, rules, period, by))


def refresh_presets(url: str, rules: LoyaltyRules, today: date) -> list[Snapshot]:
    """The dashboard's presets (overall figures), as of `today`: the daily rollup's run."""
    return [compute_snapshot(url, rules, preset_period(days, today)) for days in PRESET_DAYS]
