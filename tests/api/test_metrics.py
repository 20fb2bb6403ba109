"""GET /metrics on the API: what the process ingested, routed and answered, as a scraper reads it."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from loyalflow.api.app import create_app
from loyalflow.catalog.event_types import event_types_from
from loyalflow.config import Settings
from loyalflow.members.ingest import store_events
from loyalflow.models.api import EventIn
from loyalflow.routing.router import route_events
from loyalflow.rules.loyalty import rules_from
from tests.api.conftest import API_TOKEN, LiveApi
from tests.observability.scrape import Series, label_values, samples, total, value

METRICS_TOKEN = "scrape-only-token"
HTTP_COUNT = "loyalflow_http_request_duration_seconds_count"
INGESTED = "loyalflow_events_ingested_total"


def scrape(client: TestClient, **headers: str) -> dict[Series, float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


def event(member_id: str, type: str, **properties: Any) -> dict[str, Any]:
    return {
        "event_id": f"evt-{uuid.uuid4().hex}",
        "member_id": member_id,
        "type": type,
        "occurred_at": datetime.now(UTC).isoformat(),
        "properties": properties,
    }


def test_ingested_events_by_type_routing_lag_and_latency_by_route_template(
    client: TestClient, member_id: str
) -> None:
    before = scrape(client)

    assert client.put(f"/members/{member_id}", json={"first_name": "Ana"}).status_code == 201
    batch = [event(member_id, "visit"), event(member_id, "purchase", amount=20)]
    posted = client.post("/events", json=batch)
    assert posted.status_code == 202, posted.text
    assert posted.json()["routing"] == "done"
    assert client.post("/events", json=batch[0]).json()["duplicates"] == 1  # not counted again
    assert client.get(f"/members/{member_id}").status_code == 200
    assert client.get("/no/such/path").status_code == 404

    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # The first purchase derives `purchase.first`, stored and routed like the others.
    assert delta(INGESTED, type="visit") == 1
    assert delta(INGESTED, type="purchase") == 1
    assert delta(INGESTED, type="purchase.first") == 1
    assert delta("loyalflow_routing_lag_seconds_count") == 3
    assert delta(HTTP_COUNT, method="POST", route="/events", status="202") == 2
    assert delta(HTTP_COUNT, method="PUT", route="/members/{member_id}", status="201") == 1
    assert delta(HTTP_COUNT, method="GET", route="/members/{member_id}", status="200") == 1
    assert delta(HTTP_COUNT, method="GET", route="unmatched", status="404") == 1
    # The raw path never becomes a label: one series per route, whatever the member.
    assert not any(member_id in label for label in label_values(after))
    assert total(after, HTTP_COUNT, route="/metrics") >= 1  # the first scrape, timed too


async def test_pending_counts_events_stored_but_not_routed_yet(
    client: TestClient, api_settings: Settings, dev_server_env: WorkflowEnvironment, member_id: str
) -> None:
    assert client.put(f"/members/{member_id}", json={}).status_code == 201
    before = value(scrape(client), "loyalflow_events_pending")
    incoming = [
        EventIn.model_validate(event(member_id, "visit")),
        EventIn.model_validate(event(member_id, "visit")),
    ]
    # Stored the way POST /events stores them, routing not done yet (as after a crash).
    stored = store_events(
        api_settings.effective_database_url,
        incoming,
        rules_from(api_settings.loyalty_rules_file),
        event_types_from(api_settings.events_file),
    )

    assert value(scrape(client), "loyalflow_events_pending") == before + 2

    routed = await route_events(dev_server_env.client, api_settings, [s.event for s in stored])

    assert routed
    assert value(scrape(client), "loyalflow_events_pending") == before


@pytest.fixture
def scrape_secured(api_settings: Settings) -> Settings:
    return api_settings.model_copy(
        update={"api_token": SecretStr(API_TOKEN), "metrics_token": SecretStr(METRICS_TOKEN)}
    )


def test_metrics_need_the_metrics_token_or_the_api_token_when_tokens_are_set(
    scrape_secured: Settings,
) -> None:
    with TestClient(create_app(scrape_secured)) as client:
        refused = client.get("/metrics")
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert refused.status_code == wrong.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "LOYALFLOW_METRICS_TOKEN" in refused.json()["detail"]
        for token in (METRICS_TOKEN, API_TOKEN):
            assert scrape(client, Authorization=f"Bearer {token}")
        # The scrape token reads metrics only: it writes nothing.
        write = client.put(
            "/members/x", json={}, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
        assert write.status_code == 401


async def test_loyalflow_api_adds_its_temporal_clients_sdk_metrics(
    live_api: LiveApi, member_id: str
) -> None:
    """`loyalflow api` as run in production: the journey start a good review causes (the live
    API's journey) is a request of the API's Temporal client, counted by the SDK and served on
    the same page."""
    review = event(member_id, "review.posted", rating=5, product_id="P-1")
    async with httpx.AsyncClient(base_url=live_api.url, timeout=30) as http:
        assert (await http.put(f"/members/{member_id}", json={})).status_code == 201
        posted = await http.post("/events", json=review)
        assert posted.json()["routing"] == "done", posted.text
        page = await http.get("/metrics")

    assert page.status_code == 200
    found = samples(page.text)
    assert total(found, "temporal_request_total", operation="StartWorkflowExecution") >= 1
    assert value(found, INGESTED, type="review.posted") == 1  # a fresh process: this one event
