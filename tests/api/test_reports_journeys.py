"""GET /reports/journeys/{id} and /reports/experiments/{id}: the funnel and the verdict of a
hand-made history, 404 for what does not exist, 422 naming a bad period, 401 without the token."""

from fastapi.testclient import TestClient

from loyalflow.api.app import create_app
from loyalflow.config import Settings
from tests.analytics.funnel_program import DAY, T0, published
from tests.api.conftest import API_TOKEN

PERIOD = {"from": (T0 - DAY).isoformat(), "to": (T0 + DAY).isoformat()}


def test_the_journey_report_is_the_funnel_of_the_period(
    client: TestClient, api_settings: Settings
) -> None:
    program = published(api_settings)

    response = client.get(f"/reports/journeys/{program.journey.id}", params=PERIOD)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"]["entered"], body["total"]["converted"]) == (5, 3)
    assert body["total"]["revenue"] == "62.50"
    assert {v["version"] for v in body["versions"]} == {program.journey.version, "oldversion01"}


def test_the_experiment_report_by_name_or_by_journey(
    client: TestClient, api_settings: Settings
) -> None:
    program = published(api_settings)

    by_name = client.get(f"/reports/experiments/{program.journey.id}.split", params=PERIOD)
    by_journey = client.get(
        f"/reports/experiments/{program.journey.id}", params={**PERIOD, "min_per_arm": 1}
    )

    assert by_name.status_code == 200, by_name.text
    arms = {v["variant"]: v["entered"] for v in by_name.json()["variants"]}
    assert arms == {"a": 3, "b": 1, "holdout": 1}
    assert by_name.json()["verdict"].startswith("Not enough data yet")
    assert by_journey.status_code == 200, by_journey.text
    assert by_journey.json()["min_per_arm"] == 1
    assert by_journey.json()["enough_data"] is True


def test_unknown_journeys_and_experiments_are_404(client: TestClient) -> None:
    assert client.get("/reports/journeys/no_such_journey").status_code == 404
    assert client.get("/reports/experiments/no_such.experiment").status_code == 404


def test_a_bad_period_is_a_422_naming_the_parameter(client: TestClient) -> None:
    not_a_date = client.get("/reports/journeys/welcome", params={"from": "yesterday"})
    backwards = client.get(
        "/reports/journeys/welcome", params={"from": "2026-03-02", "to": "2026-03-01"}
    )
    bad_arm = client.get("/reports/experiments/welcome.subject_line", params={"min_per_arm": 0})

    assert not_a_date.status_code == 422
    assert not_a_date.json()["detail"][0]["loc"] == ["query", "from"]
    assert backwards.status_code == 422
    assert backwards.json()["detail"][0]["loc"] == ["query", "from"]
    assert bad_arm.status_code == 422
    assert bad_arm.json()["detail"][0]["loc"] == ["query", "min_per_arm"]


def test_reports_need_the_token(api_settings: Settings) -> None:
    from pydantic import SecretStr

    secured = api_settings.model_copy(update={"api_token": SecretStr(API_TOKEN)})
    with TestClient(create_app(secured)) as client:
        refused = client.get("/reports/journeys/welcome")
        allowed = client.get(
            "/reports/journeys/welcome", headers={"Authorization": f"Bearer {API_TOKEN}"}
        )

    assert refused.status_code == 401
    assert allowed.status_code == 200
