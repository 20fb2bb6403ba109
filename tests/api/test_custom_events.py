"""POST /events with custom types declared in events.yaml (the shipped examples): accepted,
validated against the declaration (422 naming the property), shown in the timeline, and listed
in the OpenAPI document."""

from fastapi.testclient import TestClient

from loyalflow.models.event_types import INGESTED_EVENT_TYPES
from tests.api.test_events import error_locs, error_messages, make_event


def test_a_declared_event_is_stored_and_shown_in_the_timeline(
    client: TestClient, member_id: str
) -> None:
    assert client.put(f"/members/{member_id}", json={}).status_code == 201
    event = make_event(member_id, "review.posted", rating=4.5, product_id="P-1", text="Nice")

    response = client.post("/events", json=event)

    assert response.status_code == 202, response.text
    timeline = client.get(f"/members/{member_id}/timeline").json()
    assert any(
        entry.get("event_id") == event["event_id"] and "review.posted" in entry["summary"]
        for entry in timeline["entries"]
    ), timeline


def test_a_missing_or_mistyped_property_is_named(client: TestClient, member_id: str) -> None:
    assert client.put(f"/members/{member_id}", json={}).status_code == 201

    missing = client.post("/events", json=make_event(member_id, "review.posted", rating=5))
    mistyped = client.post(
        "/events",
        json=[make_event(member_id, "review.posted", rating="five", product_id="P-1")],
    )

    assert error_locs(missing) == [["body", "properties", "product_id"]]
    assert "required by the declaration of 'review.posted'" in error_messages(missing)
    assert error_locs(mistyped) == [["body", 0, "properties", "rating"]]
    assert "must be a number, not 'five'" in error_messages(mistyped)
    timeline = client.get(f"/members/{member_id}/timeline").json()
    assert not any("review.posted" in e["summary"] for e in timeline["entries"])


def test_an_undeclared_type_is_refused_with_the_known_ones(
    client: TestClient, member_id: str
) -> None:
    assert client.put(f"/members/{member_id}", json={}).status_code == 201

    response = client.post("/events", json=make_event(member_id, "store.visit", store_id="S"))

    assert error_locs(response) == [["body", "type"]]
    assert "did you mean 'store.visited'?" in error_messages(response)


def test_the_openapi_document_lists_the_configured_types(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["EventIn"]
    assert schema["properties"]["type"]["enum"] == [
        *INGESTED_EVENT_TYPES,  # built-in first, then the declared ones (events.yaml), sorted
        "app.opened",
        "cart.abandoned",
        "review.posted",
        "store.visited",
    ]
