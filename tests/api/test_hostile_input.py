"""Hostile input gets a 4xx naming the field and the limit, never a 500; what fits is stored whole."""

from email import message_from_bytes
from email.policy import strict
from typing import Any

import pytest
from fastapi.testclient import TestClient

from loyalflow.activities.channels.mime import OutgoingEmail
from loyalflow.models.api import MAX_AMOUNT, MAX_POINTS_ADJUSTMENT
from tests.api.test_events import error_locs, error_messages, make_event, member


@pytest.fixture
def known_member(client: TestClient, member_id: str) -> str:
    response = client.put(f"/members/{member_id}", json={"email": "alice@example.com"})
    assert response.status_code == 201, response.text
    return member_id


@pytest.mark.parametrize(
    ("type", "properties", "limit"),
    [
        ("purchase", {"amount": 1e20}, f"{MAX_AMOUNT:,}"),
        ("purchase", {"amount": 1.79e308}, f"{MAX_AMOUNT:,}"),
        ("purchase", {"amount": -1e10}, f"{MAX_AMOUNT:,}"),
        ("points.adjusted", {"points": 2**62}, f"{MAX_POINTS_ADJUSTMENT:,}"),
        ("points.adjusted", {"points": -(10**13)}, f"{MAX_POINTS_ADJUSTMENT:,}"),
    ],
)
def test_numbers_past_their_limit_are_422_naming_field_and_limit(
    client: TestClient, known_member: str, type: str, properties: dict[str, Any], limit: str
) -> None:
    response = client.post("/events", json=make_event(known_member, type, **properties))

    assert error_locs(response) == [["body", "properties"]]
    (key,) = properties
    assert f"properties.{key}" in error_messages(response)
    assert limit in error_messages(response)
    assert member(client, known_member)["points"] == 0


@pytest.mark.parametrize("type", ["points.adjusted", "consent.updated"])
def test_an_event_without_the_properties_its_type_requires_is_422(
    client: TestClient, known_member: str, type: str
) -> None:
    """With no `properties` at all (a 500 before: the checks only ran on properties sent)."""
    event = {
        "event_id": f"bare-{type}-{known_member}",
        "member_id": known_member,
        "type": type,
        "occurred_at": "2026-03-01T10:00:00Z",
    }
    response = client.post("/events", json=event)

    assert response.status_code == 422, response.text
    assert error_locs(response) == [["body", "properties"]]
    assert "properties." in error_messages(response)
    assert member(client, known_member)["points"] == 0


def test_the_largest_accepted_numbers_are_stored_exactly(
    client: TestClient, known_member: str
) -> None:
    """Past 2**31 points (a 500 on PostgreSQL before the columns were widened) and the largest
    amount, twice, so the totals exceed what one event may carry."""
    events = [
        make_event(known_member, "points.adjusted", points=MAX_POINTS_ADJUSTMENT),
        make_event(known_member, "purchase", amount=MAX_AMOUNT),
        make_event(known_member, "purchase", amount=MAX_AMOUNT),
    ]
    response = client.post("/events", json=events)

    assert response.status_code == 202, response.text
    stored = member(client, known_member)
    assert stored["points"] == MAX_POINTS_ADJUSTMENT + 2 * MAX_AMOUNT  # 1 point per unit
    assert stored["total_spent"] == 2 * MAX_AMOUNT


@pytest.mark.parametrize("value", ["Al\r\nBcc: evil@example.com", "Al\nice", "Al\tice", "A\x1b[2J"])
def test_control_characters_in_member_fields_are_422(
    client: TestClient, member_id: str, value: str
) -> None:
    response = client.put(f"/members/{member_id}", json={"first_name": value})

    assert error_locs(response) == [["body", "first_name"]]
    assert "control characters" in error_messages(response)
    assert client.get(f"/members/{member_id}").status_code == 404


def test_control_characters_in_a_profile_update_are_422(
    client: TestClient, known_member: str
) -> None:
    event = make_event(known_member, "profile.updated", first_name="Eve\r\nBcc: x@example.com")

    response = client.post("/events", json=event)

    assert error_locs(response) == [["body", "properties"]]
    assert "properties.first_name" in error_messages(response)


@pytest.mark.parametrize(
    "field",
    [
        {"subject": "Hello\r\nBcc: evil@example.com"},
        {"sender": "Shop\r\nBcc: evil@example.com <shop@example.com>"},
        {"recipient": "Alice\nBcc: evil@example.com <alice@example.com>"},
    ],
)
def test_no_header_can_be_injected_into_an_email(field: dict[str, str]) -> None:
    """The last line of defence if a CR/LF ever got past the API: building the message either
    refuses it (nothing is sent) or keeps it inside one header; never a second header."""
    fields = {
        "message_id": "m-1",
        "sender": "Shop <shop@example.com>",
        "recipient": "alice@example.com",
        "subject": "Hello",
        "text": "text",
        "html": "<p>html</p>",
        **field,
    }
    try:
        raw = OutgoingEmail(**fields).to_bytes()
    except ValueError:
        return  # refused: nothing to send, nothing injected

    parsed = message_from_bytes(raw, policy=strict)
    assert parsed.get_all("Bcc") is None
    assert len(parsed.get_all("To") or []) == 1
    assert len(parsed.get_all("From") or []) == 1
    assert b"\r\nBcc:" not in raw.split(b"\r\n\r\n", 1)[0]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/unsubscribe/any-token", "GET, POST"),
        ("DELETE", "/members/M-1", "GET, PUT"),
        ("PATCH", "/preferences/any-token", "GET, POST"),
        ("GET", "/events", "POST"),
    ],
)
def test_405_lists_every_method_of_the_path(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)

    assert response.status_code == 405
    assert response.headers["allow"] == allow


def test_the_openapi_document_states_limits_and_error_answers(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    paths = document["paths"]

    assert set(paths["/members/{member_id}"]["get"]["responses"]) >= {"200", "401", "404", "422"}
    assert set(paths["/unsubscribe/{token}"]["post"]["responses"]) >= {"200", "403", "404", "410"}
    event = document["components"]["schemas"]["EventIn"]
    assert f"{MAX_AMOUNT}" in event["properties"]["properties"]["description"]
    assert "occurred_at" in event["required"]
