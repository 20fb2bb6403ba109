"""PUT/GET /members: create or update, partial updates, normalisation, validation, auth."""

from base64 import b64encode
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from loyalflow.api.app import create_app
from loyalflow.config import Settings
from tests.api.conftest import API_TOKEN
from tests.conftest import unique_member_id

ALICE: dict[str, Any] = {
    "email": "alice@example.com",
    "phone": "+33612345678",
    "first_name": "Alice",
    "locale": "fr",
    "timezone": "Europe/Paris",
    "attributes": {"store": "Lyon", "newsletter": True},
}


def error_locs(response: httpx.Response) -> list[list[str | int]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


def test_put_creates_member_with_201(client: TestClient, member_id: str) -> None:
    response = client.put(f"/members/{member_id}", json=ALICE)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"] == member_id
    assert body["email"] == "alice@example.com"
    assert body["first_name"] == "Alice"
    assert body["timezone"] == "Europe/Paris"
    assert body["purchase_count"] == 0
    assert client.get(f"/members/{member_id}").json() == body


def test_put_on_existing_member_is_an_update_with_200(client: TestClient, member_id: str) -> None:
    client.put(f"/members/{member_id}", json=ALICE)

    response = client.put(f"/members/{member_id}", json={"first_name": "Alicia"})

    assert response.status_code == 200, response.text
    assert response.json()["first_name"] == "Alicia"
    assert client.get(f"/members/{member_id}").json()["first_name"] == "Alicia"


def test_fields_left_out_keep_their_stored_values(client: TestClient, member_id: str) -> None:
    client.put(f"/members/{member_id}", json=ALICE)

    client.put(f"/members/{member_id}", json={"email": "alice@new.example.com"})

    stored = client.get(f"/members/{member_id}").json()
    assert stored["email"] == "alice@new.example.com"
    # locale and timezone have defaults in the request model; left out, they must not reset.
    assert stored["locale"] == "fr"
    assert stored["timezone"] == "Europe/Paris"
    assert stored["phone"] == "+33612345678"
    assert stored["first_name"] == "Alice"


def test_attributes_merge_with_stored_ones(client: TestClient, member_id: str) -> None:
    client.put(f"/members/{member_id}", json=ALICE)

    client.put(f"/members/{member_id}", json={"attributes": {"newsletter": False, "tier": "gold"}})

    stored = client.get(f"/members/{member_id}").json()
    assert stored["attributes"] == {"store": "Lyon", "newsletter": False, "tier": "gold"}


@pytest.mark.parametrize(
    ("given", "stored"),
    [("+33 6 12 34 56 78", "+33612345678"), ("+1 (650) 253-0000", "+16502530000")],
)
def test_phone_is_normalised_to_e164(
    client: TestClient, member_id: str, given: str, stored: str
) -> None:
    response = client.put(f"/members/{member_id}", json={"phone": given})

    assert response.status_code == 201, response.text
    assert client.get(f"/members/{member_id}").json()["phone"] == stored


@pytest.mark.parametrize(
    ("given", "stored"), [("fr_CA", "fr-CA"), ("en-GB", "en-GB"), ("de", "de")]
)
def test_locale_is_normalised(client: TestClient, member_id: str, given: str, stored: str) -> None:
    client.put(f"/members/{member_id}", json={"locale": given})

    assert client.get(f"/members/{member_id}").json()["locale"] == stored


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("phone", "0612345678"),  # national format, not E.164
        ("phone", "+3361234"),  # E.164 shape, but no such number
        ("phone", "+33 call me"),
        ("locale", "xx-YY"),
        ("timezone", "Mars/Olympus_Mons"),
        ("first_name", "A" * 201),
        ("nickname", "Ali"),  # unknown field
    ],
)
def test_bad_field_is_rejected_naming_it_and_nothing_changes(
    client: TestClient, member_id: str, field: str, value: str
) -> None:
    client.put(f"/members/{member_id}", json=ALICE)
    before = client.get(f"/members/{member_id}").json()

    response = client.put(f"/members/{member_id}", json={"first_name": "Changed", field: value})

    assert ["body", field] in error_locs(response)
    assert client.get(f"/members/{member_id}").json() == before


def test_rejected_create_does_not_create_the_member(client: TestClient, member_id: str) -> None:
    response = client.put(f"/members/{member_id}", json={"email": "nope"})

    assert error_locs(response) == [["body", "email"]]
    assert client.get(f"/members/{member_id}").status_code == 404


def test_get_unknown_member_is_404(client: TestClient) -> None:
    assert client.get(f"/members/{unique_member_id()}").status_code == 404


@pytest.mark.parametrize("bad_id", ["has space", "-starts-with-dash", "x" * 129])
def test_invalid_member_id_in_path_is_422(client: TestClient, bad_id: str) -> None:
    put = client.put(f"/members/{bad_id}", json=ALICE)
    get = client.get(f"/members/{bad_id}")

    assert error_locs(put) == [["path", "member_id"]]
    assert error_locs(get) == [["path", "member_id"]]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {b64encode(API_TOKEN.encode()).decode()}"},
        {"Authorization": API_TOKEN},  # the token without the Bearer scheme
    ],
)
def test_put_without_the_right_token_is_401(
    secured: Settings, member_id: str, headers: dict[str, str]
) -> None:
    with TestClient(create_app(secured)) as client:
        response = client.put(f"/members/{member_id}", json=ALICE, headers=headers)

        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "Bearer"
        # Nothing written.
        authorised = {"Authorization": f"Bearer {API_TOKEN}"}
        assert client.get(f"/members/{member_id}", headers=authorised).status_code == 404


def test_reading_a_member_needs_the_token_too(secured: Settings, member_id: str) -> None:
    """Members hold contact details: with a token configured, reads are guarded like writes."""
    authorised = {"Authorization": f"Bearer {API_TOKEN}"}
    with TestClient(create_app(secured)) as client:
        assert (
            client.put(f"/members/{member_id}", json=ALICE, headers=authorised).status_code == 201
        )
        assert client.get(f"/members/{member_id}").status_code == 401
        assert client.get(f"/members/{member_id}", headers=authorised).json()["email"]


def test_put_with_the_right_token_succeeds(secured: Settings, member_id: str) -> None:
    with TestClient(create_app(secured)) as client:
        response = client.put(
            f"/members/{member_id}", json=ALICE, headers={"Authorization": f"Bearer {API_TOKEN}"}
        )

        assert response.status_code == 201, response.text


def test_healthz_needs_no_token(secured: Settings) -> None:
    with TestClient(create_app(secured)) as client:
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_a_lone_surrogate_is_a_422_not_a_server_error(client: TestClient, member_id: str) -> None:
    """JSON allows `\\ud800`; no database can store it, so it is refused up front."""
    response = client.put(
        f"/members/{member_id}",
        content='{"first_name": "A\\ud800"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "first_name"]
    assert client.get(f"/members/{member_id}").status_code == 404
