"""POST /events: validation, idempotency, all-or-nothing batches, member state, journey starts."""

import json
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from loyalflow.api.app import create_app
from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Enrollment
from loyalflow.workflows import search_attributes as sa
from tests.api.conftest import API_TOKEN
from tests.conftest import unique_member_id


def make_event(
    member_id: str,
    type: str = "purchase",
    occurred_at: str = "2026-03-01T10:00:00+01:00",
    **properties: Any,
) -> dict[str, Any]:
    return {
        "event_id": f"evt-{uuid.uuid4().hex}",
        "member_id": member_id,
        "type": type,
        "occurred_at": occurred_at,
        "properties": properties,
    }


def error_locs(response: httpx.Response) -> list[list[str | int]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


def error_messages(response: httpx.Response) -> str:
    return " ".join(error["msg"] for error in response.json()["detail"])


def statuses(response: httpx.Response) -> dict[str, str]:
    return {outcome["event_id"]: outcome["status"] for outcome in response.json()["events"]}


def member(client: TestClient, member_id: str) -> dict[str, Any]:
    response = client.get(f"/members/{member_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def known_member(client: TestClient, member_id: str) -> str:
    assert client.put(f"/members/{member_id}", json={"first_name": "Bob"}).status_code == 201
    return member_id


def test_single_event_is_accepted(client: TestClient, known_member: str) -> None:
    event = make_event(known_member, "visit")

    response = client.post("/events", json=event)

    assert response.status_code == 202, response.text
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "derived": 0,
        "events": [{"event_id": event["event_id"], "status": "accepted"}],
        "routing": "done",
    }


def test_batch_is_accepted_in_order(client: TestClient, known_member: str) -> None:
    batch = [make_event(known_member, "visit"), make_event(known_member, amount=10)]

    response = client.post("/events", json=batch)

    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 2
    assert [e["event_id"] for e in response.json()["events"]] == [e["event_id"] for e in batch]
    assert member(client, known_member)["purchase_count"] == 1


def test_same_event_twice_is_a_duplicate_and_counted_once(
    client: TestClient, known_member: str
) -> None:
    purchase = make_event(known_member, amount=25.5)

    first = client.post("/events", json=purchase)
    second = client.post("/events", json=purchase)

    assert statuses(first) == {purchase["event_id"]: "accepted"}
    assert second.status_code == 202, second.text
    assert second.json()["accepted"] == 0
    assert second.json()["duplicates"] == 1
    assert statuses(second) == {purchase["event_id"]: "duplicate"}
    stored = member(client, known_member)
    assert stored["purchase_count"] == 1
    assert stored["total_spent"] == 25.5


def test_event_repeated_within_a_batch_counts_once(client: TestClient, known_member: str) -> None:
    purchase = make_event(known_member, amount=5)

    response = client.post("/events", json=[purchase, purchase])

    assert response.status_code == 202, response.text
    assert [e["status"] for e in response.json()["events"]] == ["accepted", "duplicate"]
    assert member(client, known_member)["purchase_count"] == 1


def test_purchases_update_member_state(client: TestClient, known_member: str) -> None:
    # Posted out of order: first/last purchase follow occurred_at, not arrival.
    later = make_event(known_member, occurred_at="2026-03-05T12:00:00+02:00", amount=30)
    earlier = make_event(known_member, occurred_at="2026-03-01T08:00:00-05:00", amount=12.25)
    assert client.post("/events", json=later).status_code == 202
    assert client.post("/events", json=earlier).status_code == 202

    stored = member(client, known_member)

    assert stored["purchase_count"] == 2
    assert stored["total_spent"] == pytest.approx(42.25)
    assert datetime.fromisoformat(stored["first_purchase_at"]) == datetime.fromisoformat(
        "2026-03-01T13:00:00+00:00"
    )
    assert datetime.fromisoformat(stored["last_purchase_at"]) == datetime.fromisoformat(
        "2026-03-05T10:00:00+00:00"
    )
    assert datetime.fromisoformat(stored["last_activity_at"]) == datetime.fromisoformat(
        "2026-03-05T10:00:00+00:00"
    )


@pytest.mark.parametrize("amount", ["12.50", True, {"value": 3}, [1]])
def test_purchase_amount_must_be_a_number(
    client: TestClient, known_member: str, amount: object
) -> None:
    response = client.post("/events", json=make_event(known_member, amount=amount))

    assert any(loc[-1] == "properties" for loc in error_locs(response)), response.text
    assert "amount" in error_messages(response)
    assert member(client, known_member)["purchase_count"] == 0


@pytest.mark.parametrize(
    "amount",
    ["NaN", "Infinity", "-Infinity", "1e400", pytest.param("1" + "0" * 400, id="10**400")],
)
def test_purchase_amount_must_be_finite(client: TestClient, known_member: str, amount: str) -> None:
    # Python's JSON parser accepts these literals; a total_spent of inf/NaN would be corrupt.
    body = json.dumps(make_event(known_member, amount=0)).replace(
        '"amount": 0', f'"amount": {amount}'
    )

    response = client.post("/events", content=body, headers={"Content-Type": "application/json"})

    assert any(loc[-1] == "properties" for loc in error_locs(response)), response.text
    stored = member(client, known_member)
    assert stored["purchase_count"] == 0
    assert stored["total_spent"] == 0.0


def test_purchase_with_null_amount_is_rejected(client: TestClient, known_member: str) -> None:
    response = client.post("/events", json=make_event(known_member, amount=None))

    assert response.status_code == 422, response.text
    assert any(loc[-1] == "properties" for loc in error_locs(response)), response.text
    assert member(client, known_member)["purchase_count"] == 0


@pytest.mark.parametrize("occurred_at", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:00:00-05:00"])
def test_occurred_at_outside_the_storable_range_is_422(
    client: TestClient, known_member: str, occurred_at: str
) -> None:
    response = client.post("/events", json=make_event(known_member, occurred_at=occurred_at))

    assert any(loc[-1] == "occurred_at" for loc in error_locs(response)), response.text


@pytest.mark.parametrize("field", ["event_id", "member_id", "type", "occurred_at"])
def test_missing_field_is_422_naming_it(client: TestClient, known_member: str, field: str) -> None:
    event = make_event(known_member)
    del event[field]

    response = client.post("/events", json=event)

    assert any(loc[-1] == field for loc in error_locs(response)), response.text


def test_naive_datetime_is_rejected(client: TestClient, known_member: str) -> None:
    response = client.post(
        "/events", json=make_event(known_member, occurred_at="2026-03-01T10:00:00")
    )

    assert any(loc[-1] == "occurred_at" for loc in error_locs(response)), response.text
    assert member(client, known_member)["purchase_count"] == 0


def test_unknown_event_type_is_rejected(client: TestClient, known_member: str) -> None:
    response = client.post("/events", json=make_event(known_member, "purchase.refunded"))

    assert any(loc[-1] == "type" for loc in error_locs(response)), response.text
    assert "unknown event type" in error_messages(response)


@pytest.mark.parametrize("derived", ["purchase.first", "tier.upgraded", "member.inactive"])
def test_derived_event_type_cannot_be_posted(
    client: TestClient, known_member: str, derived: str
) -> None:
    response = client.post("/events", json=make_event(known_member, derived))

    assert any(loc[-1] == "type" for loc in error_locs(response)), response.text
    assert "derived" in error_messages(response)


def test_unknown_field_in_event_is_rejected(client: TestClient, known_member: str) -> None:
    event = {**make_event(known_member), "amount": 10}

    response = client.post("/events", json=event)

    assert any(loc[-1] == "amount" for loc in error_locs(response)), response.text


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/events", content=b'{"event_id": "e1", ', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_event_for_unknown_member_names_member_id(client: TestClient) -> None:
    stranger = unique_member_id()

    response = client.post("/events", json=make_event(stranger))

    assert error_locs(response) == [["body", "member_id"]]
    assert stranger in error_messages(response)
    assert client.get(f"/members/{stranger}").status_code == 404


def test_batch_error_for_unknown_member_names_its_index(
    client: TestClient, known_member: str
) -> None:
    batch = [make_event(known_member), make_event(unique_member_id()), make_event(known_member)]

    response = client.post("/events", json=batch)

    assert error_locs(response) == [["body", 1, "member_id"]]


def test_batch_with_one_bad_event_stores_nothing(client: TestClient, known_member: str) -> None:
    good = make_event(known_member, amount=10)
    joined = make_event(unique_member_id(), "member.joined")
    bad = make_event(unique_member_id())

    rejected = client.post("/events", json=[good, joined, bad])

    assert error_locs(rejected) == [["body", 2, "member_id"]]
    assert member(client, known_member)["purchase_count"] == 0
    assert client.get(f"/members/{joined['member_id']}").status_code == 404
    again = client.post("/events", json=good)
    assert statuses(again) == {good["event_id"]: "accepted"}
    assert member(client, known_member)["purchase_count"] == 1


def test_batch_with_one_invalid_event_stores_nothing(client: TestClient, known_member: str) -> None:
    good = make_event(known_member, amount=10)
    naive = make_event(known_member, occurred_at="2026-03-01T10:00:00")

    rejected = client.post("/events", json=[good, naive])

    assert any(loc[-2:] == [1, "occurred_at"] for loc in error_locs(rejected)), rejected.text
    again = client.post("/events", json=good)
    assert statuses(again) == {good["event_id"]: "accepted"}
    assert member(client, known_member)["purchase_count"] == 1


def test_batch_over_the_limit_is_rejected_whole(client: TestClient, known_member: str) -> None:
    batch = [make_event(known_member, amount=1) for _ in range(1001)]

    rejected = client.post("/events", json=batch)

    assert error_locs(rejected) == [["body"]]
    assert "1000" in error_messages(rejected)
    assert member(client, known_member)["purchase_count"] == 0


def test_joined_then_purchase_in_one_batch_for_a_new_member(client: TestClient) -> None:
    newcomer = unique_member_id()
    batch = [
        make_event(newcomer, "member.joined", occurred_at="2026-03-01T09:00:00+00:00"),
        make_event(newcomer, occurred_at="2026-03-01T09:30:00+00:00", amount=8),
    ]

    response = client.post("/events", json=batch)

    assert response.status_code == 202, response.text
    stored = member(client, newcomer)
    assert stored["purchase_count"] == 1
    assert datetime.fromisoformat(stored["joined_at"]) == datetime.fromisoformat(
        "2026-03-01T09:00:00+00:00"
    )


def enrollments(settings: Settings, member_id: str) -> list[Enrollment]:
    with session_scope(settings.effective_database_url) as session:
        return list(session.exec(select(Enrollment).where(col(Enrollment.member_id) == member_id)))


async def test_member_joined_creates_member_and_starts_welcome_journey(
    client: TestClient, dev_server_env: WorkflowEnvironment, api_settings: Settings
) -> None:
    newcomer = unique_member_id()
    joined = make_event(newcomer, "member.joined", occurred_at="2026-03-01T09:00:00+00:00")

    response = client.post("/events", json=joined)

    assert response.status_code == 202, response.text
    assert response.json()["routing"] == "done"
    stored = member(client, newcomer)
    assert datetime.fromisoformat(stored["joined_at"]) == datetime.fromisoformat(
        "2026-03-01T09:00:00+00:00"
    )
    handle = dev_server_env.client.get_workflow_handle(f"journey-welcome-{newcomer}")
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    assert description.task_queue == api_settings.temporal_task_queue
    attributes = description.typed_search_attributes
    assert attributes.get(sa.MEMBER_ID) == newcomer
    assert attributes.get(sa.JOURNEY_ID) == "welcome"
    # Welcome only: the birthday journey starts for members who join with a birthday on file.
    assert [e.workflow_id for e in enrollments(api_settings, newcomer)] == [
        f"journey-welcome-{newcomer}"
    ]


async def test_second_member_joined_does_not_start_another_journey(
    client: TestClient, dev_server_env: WorkflowEnvironment, api_settings: Settings
) -> None:
    newcomer = unique_member_id()
    assert client.post("/events", json=make_event(newcomer, "member.joined")).status_code == 202
    handle = dev_server_env.client.get_workflow_handle(f"journey-welcome-{newcomer}")
    first_run = (await handle.describe()).run_id

    again = client.post("/events", json=make_event(newcomer, "member.joined"))

    assert again.status_code == 202, again.text
    assert again.json()["accepted"] == 1
    assert (await handle.describe()).run_id == first_run
    # One entry, not two.
    assert [e.journey_id for e in enrollments(api_settings, newcomer)] == ["welcome"]


async def test_member_created_by_put_gets_journey_on_member_joined(
    client: TestClient, dev_server_env: WorkflowEnvironment, known_member: str
) -> None:
    response = client.post("/events", json=make_event(known_member, "member.joined"))

    assert response.status_code == 202, response.text
    assert member(client, known_member)["first_name"] == "Bob"
    handle = dev_server_env.client.get_workflow_handle(f"journey-welcome-{known_member}")
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"}])
def test_post_events_without_the_right_token_is_401(
    secured: Settings, headers: dict[str, str]
) -> None:
    newcomer = unique_member_id()
    with TestClient(create_app(secured)) as client:
        response = client.post(
            "/events", json=make_event(newcomer, "member.joined"), headers=headers
        )

        assert response.status_code == 401, response.text
        authorised = {"Authorization": f"Bearer {API_TOKEN}"}
        assert client.get(f"/members/{newcomer}", headers=authorised).status_code == 404


def test_post_events_with_the_right_token_is_accepted(secured: Settings) -> None:
    newcomer = unique_member_id()
    with TestClient(create_app(secured)) as client:
        response = client.post(
            "/events",
            json=make_event(newcomer, "member.joined"),
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        )

        assert response.status_code == 202, response.text
        authorised = {"Authorization": f"Bearer {API_TOKEN}"}
        assert client.get(f"/members/{newcomer}", headers=authorised).status_code == 200
