"""What a demo run did, read back from its database by the analytics reports (the same code as
`loyalflow report`): each journey's funnel and each split's experiment, plus events by type."""

from collections import Counter
from datetime import datetime

from pydantic import BaseModel
from sqlmodel import col, func, select

from loyalflow.analytics.experiment_report import experiment_report
from loyalflow.analytics.journey_lookup import split_steps
from loyalflow.analytics.journey_models import ExperimentReport, JourneyReport, ReportPeriod
from loyalflow.analytics.journey_report import journey_report
from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.models.db import read_scope
from loyalflow.models.tables import Event, Member


class Summary(BaseModel):
    start: datetime
    days: int
    members: int
    events: dict[str, int]  # events during the run, by type
    journeys: list[JourneyReport]
    experiments: list[ExperimentReport]

    @property
    def channels(self) -> dict[str, int]:
        """Messages sent by channel, every journey together."""
        totals: Counter[str] = Counter()
        for journey in self.journeys:
            for send in journey.total.sends:
                totals[send.channel] += send.sent
        return dict(totals)

    @property
    def not_sent(self) -> list[tuple[str, int]]:
        """Messages not sent, by reason, every journey together, most first."""
        totals: Counter[str] = Counter()
        for journey in self.journeys:
            for send in journey.total.sends:
                for reason in send.not_sent:
                    totals[reason.label] += reason.count
        return totals.most_common()


def summarise(url: str, settings: Settings, started_at: datetime, days: int) -> Summary:
    catalog = get_catalog(settings)
    with read_scope(url) as session:
        members = session.exec(select(func.count()).select_from(Member)).one()
        events = dict(
            session.exec(
                select(Event.type, func.count())
                .where(col(Event.occurred_at) >= started_at)
                .group_by(col(Event.type))
            ).all()
        )
    period = ReportPeriod(start=started_at)
    journeys = sorted(catalog.journeys.values(), key=lambda j: j.id)
    return Summary(
        start=started_at,
        days=days,
        members=members,
        events=dict(sorted(events.items())),
        journeys=[journey_report(url, journey, period) for journey in journeys],
        experiments=[
            experiment_report(url, journey, split, period)
            for journey in journeys
            for split in split_steps(journey)
        ],
    )
