"""Signed link tokens, and unsubscribe links: confirmation page (GET), RFC 8058 one-click (POST)."""

import os
import stat
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import col, select

from loyalflow.api.app import create_app
from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event
from loyalflow.security import tokens
from loyalflow.security.tokens import (
    TokenExpired,
    TokenPayload,
    TokenTampered,
    make_token,
    preferences_url,
    read_token,
    unsubscribe_url,
)
from tests.conftest import unique_member_id

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def put_member(client: TestClient, member_id: str, **fields: Any) -> None:
    body = {"email": "alice@example.com", "first_name": "Alice", "locale": "en", **fields}
    response = client.put(f"/members/{member_id}", json=body)
    assert response.status_code in (200, 201), response.text


def set_consent(
    client: TestClient, member_id: str, channel: str, topic: str, status: str = "granted"
) -> None:
    response = client.post(
        "/events",
        json={
            "event_id": f"setup-{unique_member_id('evt')}",
            "member_id": member_id,
            "type": "consent.updated",
            "occurred_at": datetime.now(UTC).isoformat(),
            "properties": {"channel": channel, "topic": topic, "status": status, "source": "test"},
        },
    )
    assert response.status_code == 202, response.text


def consents(client: TestClient, member_id: str) -> dict[tuple[str, str], tuple[str, str | None]]:
    response = client.get(f"/members/{member_id}")
    assert response.status_code == 200, response.text
    return {
        (c["channel"], c["topic"]): (c["status"], c["source"]) for c in response.json()["consents"]
    }


def consent_events(settings: Settings, member_id: str, source: str | None = None) -> list[Event]:
    """The consent.updated events loyalflow recorded: all but the tests' own setup events, or
    those of one source."""
    with session_scope(settings.effective_database_url) as session:
        rows = session.exec(
            select(Event)
            .where(Event.member_id == member_id, Event.type == "consent.updated")
            .order_by(col(Event.received_at))
        )
        found = [(e, e.properties.get("source")) for e in rows]
    if source is None:
        return [e for e, s in found if s != "test"]
    return [e for e, s in found if s == source]


def path_of(url: str) -> str:
    return urlsplit(url).path


def tamper(token: str) -> str:
    """One character of the payload changed: still well-formed, no longer signed by us."""
    payload, rest = token.split(".", 1)
    flipped = "A" if payload[5] != "A" else "B"
    return f"{payload[:5]}{flipped}{payload[6:]}.{rest}"


# --- tokens --------------------------------------------------------------------------------------


def test_tokens_round_trip_with_their_payload(settings: Settings) -> None:
    token = make_token(
        settings, "unsubscribe", "M-1", channel="sms", topic="offers", message_id="x"
    )
    assert read_token(settings, token, "unsubscribe") == TokenPayload(
        "unsubscribe", "M-1", channel="sms", topic="offers", message_id="x"
    )
    assert read_token(settings, make_token(settings, "preferences", "M-2"), "preferences") == (
        TokenPayload("preferences", "M-2")
    )


def test_urls_are_built_on_the_public_url(settings: Settings) -> None:
    public = settings.model_copy(update={"public_url": "https://loyalty.example.com/"})

    link = unsubscribe_url(public, "M-1", "email", "offers")

    assert link.startswith("https://loyalty.example.com/unsubscribe/")
    assert preferences_url(public, "M-1").startswith("https://loyalty.example.com/preferences/")
    token = link.rsplit("/", 1)[1]
    assert read_token(public, token, "unsubscribe").topic == "offers"


@pytest.mark.parametrize(
    "forge",
    [
        tamper,
        lambda token: token[:-2],  # truncated signature
        lambda token: token.rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAAAAAAA",
        lambda token: "not-a-token",
        lambda token: "",
    ],
)
def test_tampered_tokens_are_refused(settings: Settings, forge: Any) -> None:
    token = make_token(settings, "unsubscribe", "M-1", channel="email", topic="offers")

    with pytest.raises(TokenTampered):
        read_token(settings, forge(token), "unsubscribe")


def test_a_token_only_serves_its_own_purpose(settings: Settings) -> None:
    unsubscribe = make_token(settings, "unsubscribe", "M-1", channel="email", topic="offers")

    with pytest.raises(TokenTampered):
        read_token(settings, unsubscribe, "preferences")
    with pytest.raises(TokenTampered):
        read_token(settings, make_token(settings, "preferences", "M-1"), "unsubscribe")


def test_a_token_signed_with_another_key_is_refused(settings: Settings) -> None:
    other = settings.model_copy(update={"secret_key": SecretStr("another deployment's key")})

    with pytest.raises(TokenTampered):
        read_token(settings, make_token(other, "preferences", "M-1"), "preferences")


def test_expired_tokens_are_told_apart_from_forged_ones(settings: Settings) -> None:
    token = make_token(settings, "preferences", "M-1")
    # A TTL in the past: the token is older than it, without sleeping.
    later = settings.model_copy(update={"token_ttl_days": -1})

    with pytest.raises(TokenExpired):
        read_token(later, token, "preferences")
    # The signature is checked before the age: a forged old token is not merely "expired".
    with pytest.raises(TokenTampered):
        read_token(later, tamper(token), "preferences")


def test_unsubscribe_tokens_need_a_valid_channel_and_topic(settings: Settings) -> None:
    with pytest.raises(ValueError):
        make_token(settings, "unsubscribe", "M-1", channel="fax", topic="offers")
    with pytest.raises(ValueError):
        make_token(settings, "unsubscribe", "M-1", channel="email", topic="")
    with pytest.raises(ValueError):
        make_token(settings, "unsubscribe", "M-1")


def test_without_a_configured_key_one_is_generated_once_privately(settings: Settings) -> None:
    assert settings.secret_key is None
    token = make_token(settings, "preferences", "M-1")

    key_file = settings.home / tokens.SECRET_KEY_FILE
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    # Another process of the same home (no cache) reads the same key and accepts the token.
    tokens._home_key.cache_clear()
    assert read_token(settings, token, "preferences").member_id == "M-1"
    assert key_file.read_text().strip() == tokens.secret_key(settings)


def test_a_configured_key_wins_over_the_generated_one(settings: Settings) -> None:
    from_home = make_token(settings, "preferences", "M-1")
    configured = settings.model_copy(update={"secret_key": SecretStr("s" * 40)})

    with pytest.raises(TokenTampered):
        read_token(configured, from_home, "preferences")
    assert read_token(configured, make_token(configured, "preferences", "M-1"), "preferences")


# --- GET /unsubscribe/{token} --------------------------------------------------------------------


def test_get_shows_a_confirmation_in_english_and_changes_nothing(
    client: TestClient, api_settings: Settings, member_id: str
) -> None:
    put_member(client, member_id)
    set_consent(client, member_id, "email", "offers")
    link = unsubscribe_url(api_settings, member_id, "email", "offers")

    response = client.get(path_of(link))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in response.text
    assert "Alice" in response.text and "a•••@example.com" in response.text
    assert "alice@example.com" not in response.text
    assert '<form method="post">' in response.text
    assert 'name="List-Unsubscribe" value="One-Click"' in response.text
    assert "<script" not in response.text
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert consents(client, member_id)[("email", "offers")] == ("granted", "test")
    assert consent_events(api_settings, member_id) == []


def test_get_speaks_french_to_a_fr_ca_member(
    client: TestClient, api_settings: Settings, member_id: str
) -> None:
    put_member(client, member_id, locale="fr-CA")
    link = unsubscribe_url(api_settings, member_id, "email", "offers")

    response = client.get(path_of(link))

    assert response.status_code == 200, response.text
    assert '<html lang="fr">' in response.text
    assert "Me désabonner" in response.text


# --- POST /unsubscribe/{token} -------------------------------------------------------------------


def test_one_click_post_revokes_and_a_repeat_records_nothing_more(
    client: TestClient, api_settings: Settings, member_id: str
) -> None:
    put_member(client, member_id)
    set_consent(client, member_id, "email", "offers")
    set_consent(client, member_id, "email", "loyalty")
    link = unsubscribe_url(api_settings, member_id, "email", "offers", message_id="msg-1")
    client.cookies.clear()

    # Exactly what a mail client sends (RFC 8058): a form-encoded body, no cookies, no script.
    first = client.post(path_of(link), data=ONE_CLICK)
    second = client.post(path_of(link), data=ONE_CLICK)

    assert first.status_code == second.status_code == 200, first.text
    assert "You are unsubscribed" in first.text
    state = consents(client, member_id)
    assert state[("email", "offers")] == ("revoked", "unsubscribe-link")
    assert state[("email", "loyalty")] == ("granted", "test")  # other topics untouched
    [event] = consent_events(api_settings, member_id)
    assert event.properties == {
        "channel": "email",
        "topic": "offers",
        "status": "revoked",
        "source": "unsubscribe-link",
    }
    assert event.routed  # routed like any other event: running journeys hear of it


def test_multipart_and_empty_one_click_bodies_work_too(
    client: TestClient, api_settings: Settings, member_id: str
) -> None:
    put_member(client, member_id)
    set_consent(client, member_id, "sms", "offers")
    set_consent(client, member_id, "email", "offers")
    sms_link = unsubscribe_url(api_settings, member_id, "sms", "offers")
    email_link = unsubscribe_url(api_settings, member_id, "email", "offers")

    multipart = client.post(path_of(sms_link), files={"List-Unsubscribe": (None, "One-Click")})
    assert multipart.status_code == 200
    assert client.post(path_of(email_link)).status_code == 200

    state = consents(client, member_id)
    assert state[("sms", "offers")][0] == state[("email", "offers")][0] == "revoked"


def test_unsubscribing_again_after_resubscribing_is_recorded(
    client: TestClient, api_settings: Settings, member_id: str
) -> None:
    put_member(client, member_id)
    link = path_of(unsubscribe_url(api_settings, member_id, "email", "offers"))

    client.post(link, data=ONE_CLICK)
    set_consent(client, member_id, "email", "offers", "granted")  # changed their mind
    client.post(link, data=ONE_CLICK)  # and back again, with the same old link

    assert consents(client, member_id)[("email", "offers")][0] == "revoked"
    assert len(consent_events(api_settings, member_id, source="unsubscribe-link")) == 2


def test_links_work_without_the_api_bearer_token(secured: Settings, member_id: str) -> None:
    with TestClient(create_app(secured)) as client:
        response = client.put(
            f"/members/{member_id}",
            json={"email": "bob@example.com"},
            headers={"Authorization": "Bearer s3cret-token"},
        )
        assert response.status_code == 201
        link = path_of(unsubscribe_url(secured, member_id, "email", "offers"))

        assert client.get(link).status_code == 200
        assert client.post(link, data=ONE_CLICK).status_code == 200
    assert len(consent_events(secured, member_id)) == 1


def test_a_tampered_link_is_refused_and_changes_nothing(
    client: TestClient, api_settings: Settings, member_id: str
) -> None:
    put_member(client, member_id)
    set_consent(client, member_id, "email", "offers")
    token = make_token(api_settings, "unsubscribe", member_id, channel="email", topic="offers")

    for response in (
        client.get(f"/unsubscribe/{tamper(token)}"),
        client.post(f"/unsubscribe/{tamper(token)}", data=ONE_CLICK),
        client.post(f"/unsubscribe/{make_token(api_settings, 'preferences', member_id)}"),
    ):
        assert response.status_code == 403
        assert "not valid" in response.text
    assert consents(client, member_id)[("email", "offers")] == ("granted", "test")
    assert consent_events(api_settings, member_id) == []


def test_an_expired_link_says_so_and_links_nowhere(
    client: TestClient, api_settings: Settings, member_id: str
) -> None:
    put_member(client, member_id)
    set_consent(client, member_id, "email", "offers")
    link = path_of(unsubscribe_url(api_settings, member_id, "email", "offers"))
    expired = api_settings.model_copy(update={"token_ttl_days": -1})

    with TestClient(create_app(expired)) as later:
        pages = [
            later.get(link, headers={"Accept-Language": "fr-CA,fr;q=0.9"}),
            later.post(link, data=ONE_CLICK),
        ]

    assert [p.status_code for p in pages] == [410, 410]
    assert "Ce lien a expiré" in pages[0].text
    assert "This link has expired" in pages[1].text
    assert all("href" not in p.text and "<form" not in p.text for p in pages)
    assert consents(client, member_id)[("email", "offers")] == ("granted", "test")


def test_a_link_for_an_unknown_member_is_404(client: TestClient, api_settings: Settings) -> None:
    link = path_of(unsubscribe_url(api_settings, unique_member_id(), "email", "offers"))

    assert client.get(link).status_code == 404
    assert client.post(link, data=ONE_CLICK).status_code == 404


@pytest.mark.parametrize(
    "accept_language",
    ["en/../en", "../../../etc/passwd", "fr/../../api/templates/fr", "%2e%2e", ";;;,,q=x", "\t"],
)
def test_hostile_accept_language_falls_back_to_english(
    client: TestClient, api_settings: Settings, accept_language: str
) -> None:
    """The header is parsed as language ranges and matched only against shipped locales: a value
    that is no language tag can neither reach a file name nor fail the page."""
    token = make_token(api_settings, "unsubscribe", "M-1", channel="email", topic="offers")
    for path in (f"/unsubscribe/{tamper(token)}", f"/preferences/{tamper(token)}"):
        response = client.get(path, headers={"Accept-Language": accept_language})

        assert response.status_code == 403, response.text
        assert '<html lang="en">' in response.text


def test_accept_language_q_values_choose_the_shipped_locale(
    client: TestClient, api_settings: Settings
) -> None:
    token = tamper(make_token(api_settings, "unsubscribe", "M-1", channel="email", topic="offers"))

    french = client.get(f"/unsubscribe/{token}", headers={"Accept-Language": "de, fr-CA;q=0.8"})
    english = client.get(
        f"/unsubscribe/{token}", headers={"Accept-Language": "fr;q=0.5, en-GB;q=0.9"}
    )

    assert '<html lang="fr">' in french.text
    assert '<html lang="en">' in english.text
