"""GET /reports/kpis: the token, the period and grouping parameters, and the same figures as the
report the CLI prints (the KPIs themselves are tested in tests/analytics)."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from loyalflow.analytics.kpi_models import KpiReport, Period
from loyalflow.analytics.kpis import kpi_report
from loyalflow.api.app import create_app
from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.config import Settings
from loyalflow.members.ingest import store_events
from loyalflow.models.api import EventIn
from loyalflow.rules.loyalty import rules_from
from tests.api.conftest import API_TOKEN
from tests.conftest import unique_member_id

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def client(secured: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(secured)) as test_client:
        yield test_client


def test_the_report_needs_the_token(client: TestClient) -> None:
    assert client.get("/reports/kpis").status_code == 401


def test_the_report_of_a_period_is_the_clis(client: TestClient, secured: Settings) -> None:
    member = unique_member_id()
    at = datetime(2026, 3, 10, 12, tzinfo=UTC)
    store_events(
        secured.effective_database_url,
        [
            EventIn(event_id=f"{member}-j", member_id=member, type="member.joined", occurred_at=at),
            EventIn(
                event_id=f"{member}-p",
                member_id=member,
                type="purchase",
                occurred_at=at,
                properties={"amount": 12.5},
            ),
        ],
        rules_from(secured.loyalty_rules_file),
        BUILT_IN_ONLY,
    )
    answer = client.get(
        "/reports/kpis",
        params={"from": "2026-03-01", "to": "2026-03-31", "by": "tier"},
        headers=AUTH,
    )
    assert answer.status_code == 200, answer.text
    report = KpiReport.model_validate(answer.json())
    march = Period(
        start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 4, 1, tzinfo=UTC)
    )  # `to` as a date includes that day
    assert report.period == march
    assert report.by == "tier"
    assert report.overall.purchases.orders >= 1
    expected = kpi_report(
        secured.effective_database_url, rules_from(secured.loyalty_rules_file), march, "tier"
    )
    assert report.model_dump(exclude={"generated_at"}) == expected.model_dump(
        exclude={"generated_at"}
    )


def test_the_default_period_is_the_last_30_days(client: TestClient) -> None:
    answer = client.get("/reports/kpis", headers=AUTH)
    assert answer.status_code == 200, answer.text
    period = KpiReport.model_validate(answer.json()).period
    assert (period.end - period.start).days == 30
    assert abs((datetime.now(UTC) - period.end).total_seconds()) < 600


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "June"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"to": "2026-06-01T10:00:00"}, "to"),  # no offset
        ({"from": "2026-07-01", "to": "2026-06-01"}, "from"),
        ({"from": "0001-01-01"}, "from"),
        ({"to": "9999-12-31"}, "to"),
        ({"by": "country"}, "by"),
        ({"form": "2026-06-01"}, "form"),  # a typo is refused, not ignored
    ],
)
def test_a_bad_parameter_is_named(client: TestClient, params: dict[str, str], field: str) -> None:
    answer = client.get("/reports/kpis", params=params, headers=AUTH)
    assert answer.status_code == 422, answer.text
    assert [e["loc"] for e in answer.json()["detail"]] == [["query", field]]
