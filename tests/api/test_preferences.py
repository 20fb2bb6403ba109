"""The preference page: current consent per channel and topic, changes as consent.updated events."""

import re
from pathlib import Path
from urllib.parse import urlencode

import httpx
from fastapi.testclient import TestClient

from loyalflow.api.app import create_app
from loyalflow.api.routes.preferences import FORM_TYPE
from loyalflow.config import Settings
from loyalflow.security.tokens import make_token, preferences_url, unsubscribe_url
from tests.api.test_unsubscribe import (
    consent_events,
    consents,
    path_of,
    put_member,
    set_consent,
    tamper,
)

# The welcome journey sends on `onboarding`, the others on `loyalty`; messaging.yaml: email
# unless_revoked, sms granted, for both.
INPUT = re.compile(r"<input ([^>]*)>")


def form_of(response: httpx.Response) -> tuple[list[tuple[str, str]], set[str], set[str]]:
    """The hidden fields, the ticked boxes and the disabled ones, as a browser would see them."""
    assert response.status_code == 200, response.text
    hidden: list[tuple[str, str]] = []
    ticked: set[str] = set()
    disabled: set[str] = set()
    for attributes in INPUT.findall(response.text):
        name = re.search(r'name="([^"]*)"', attributes)
        value = re.search(r'value="([^"]*)"', attributes)
        label = re.search(r'aria-label="([^"]*)"', attributes)
        if " disabled" in attributes and label:
            disabled.add(label.group(1))
        elif name and value and 'type="hidden"' in attributes:
            hidden.append((name.group(1), value.group(1)))
        elif name and value and " checked" in attributes:
            ticked.add(value.group(1))
    return hidden, ticked, disabled


def submit(
    client: TestClient,
    link: str,
    page: httpx.Response,
    tick: frozenset[str] = frozenset(),
    untick: frozenset[str] = frozenset(),
) -> httpx.Response:
    """Posts the page's form as a browser would, after ticking and unticking some boxes."""
    hidden, ticked, _ = form_of(page)
    fields = hidden + [("on", key) for key in sorted((ticked | tick) - untick)]
    response: httpx.Response = client.post(
        link, content=urlencode(fields), headers={"content-type": FORM_TYPE}
    )
    return response


def test_page_shows_current_consent_and_only_a_masked_address(
    client: TestClient, api_settings: Settings, member_id: str
) -> None:
    put_member(client, member_id, phone="+33612345678")
    set_consent(client, member_id, "email", "offers", "granted")
    set_consent(client, member_id, "sms", "offers", "revoked")
    link = path_of(preferences_url(api_settings, member_id))

    page = client.get(link)

    hidden, ticked, _ = form_of(page)
    shown = sorted(value for name, value in hidden if name == "shown")
    assert shown == [
        "email:loyalty:on",
        "email:offers:on",
        "email:onboarding:on",  # unless_revoked: on until the member says no
        "sms:loyalty:off",
        "sms:offers:off",
        "sms:onboarding:off",  # granted rule, never granted
    ]
    assert ticked == {"email:loyalty", "email:offers", "email:onboarding"}
    assert "Alice" in page.text and "a•••@example.com" in page.text
    assert "alice@example.com" not in page.text and "612345678" not in page.text
    assert '<html lang="en">' in page.text
    assert consent_events(api_settings, member_id) == []


def test_changed_boxes_become_events_and_unchanged_ones_do_not(
    client: TestClient, api_settings: Settings, member_id: str
) -> None:
    put_member(client, member_id)
    set_consent(client, member_id, "email", "offers", "granted")
    link = path_of(preferences_url(api_settings, member_id))

    saved = submit(
        client,
        link,
        client.get(link),
        tick=frozenset({"sms:onboarding"}),
        untick=frozenset({"email:offers"}),
    )

    assert "Your preferences are saved." in saved.text
    state = consents(client, member_id)
    assert state[("email", "offers")] == ("revoked", "preference-centre")
    assert state[("sms", "onboarding")] == ("granted", "preference-centre")
    assert ("email", "onboarding") not in state  # untouched: still no decision
    events = consent_events(api_settings, member_id)
    assert sorted((e.properties["channel"], e.properties["topic"]) for e in events) == [
        ("email", "offers"),
        ("sms", "onboarding"),
    ]
    assert all(e.routed for e in events)
    # The page after saving shows the new state; submitting it as is records nothing.
    _, ticked, _ = form_of(saved)
    assert ticked == {"email:loyalty", "email:onboarding", "sms:onboarding"}
    submit(client, link, saved)
    assert len(consent_events(api_settings, member_id)) == 2


def test_the_same_form_posted_twice_records_each_change_once(
    client: TestClient, api_settings: Settings, member_id: str
) -> None:
    put_member(client, member_id)
    link = path_of(preferences_url(api_settings, member_id))
    page = client.get(link)

    submit(client, link, page, untick=frozenset({"email:onboarding"}))
    submit(client, link, page, untick=frozenset({"email:onboarding"}))

    assert consents(client, member_id)[("email", "onboarding")][0] == "revoked"
    assert len(consent_events(api_settings, member_id)) == 1


def test_a_stale_page_does_not_undo_a_later_decision(
    client: TestClient, api_settings: Settings, member_id: str
) -> None:
    put_member(client, member_id)
    set_consent(client, member_id, "email", "offers", "granted")
    link = path_of(preferences_url(api_settings, member_id))
    stale = client.get(link)  # email:offers ticked

    client.post(path_of(unsubscribe_url(api_settings, member_id, "email", "offers")))
    submit(client, link, stale)  # saved without touching the box

    assert consents(client, member_id)[("email", "offers")] == ("revoked", "unsubscribe-link")
    assert consent_events(api_settings, member_id, source="preference-centre") == []


def test_boxes_the_page_does_not_offer_are_ignored(
    client: TestClient, api_settings: Settings, member_id: str, tmp_path: Path
) -> None:
    put_member(client, member_id)
    set_consent(client, member_id, "email", "service", "granted")
    policy = tmp_path / "messaging.yaml"
    policy.write_text(
        "topics:\n  onboarding: {email: unless_revoked, sms: granted}\n"
        "  loyalty: {email: unless_revoked, sms: granted}\n"
        "  service: {email: always, sms: always}\n"
    )
    settings = api_settings.model_copy(update={"messaging_policy_file": policy})
    link = path_of(preferences_url(settings, member_id))

    with TestClient(create_app(settings)) as own:
        page = own.get(link)
        _, _, disabled = form_of(page)
        forged = own.post(
            link,
            data={
                "shown": ["email:service:on", "email:invented:off", "fax:onboarding:off"],
                "on": ["email:invented", "fax:onboarding"],
            },
        )

    assert disabled == {"Service, Email", "Service, SMS"}  # transactional: always sent
    assert forged.status_code == 200
    assert consents(client, member_id) == {("email", "service"): ("granted", "test")}
    assert consent_events(api_settings, member_id) == []


def test_invalid_tokens_are_refused_and_change_nothing(
    client: TestClient, api_settings: Settings, member_id: str
) -> None:
    put_member(client, member_id)
    token = make_token(api_settings, "preferences", member_id)
    change = {"shown": "email:onboarding:on"}  # unticked: would revoke

    for link in (
        f"/preferences/{tamper(token)}",
        path_of(unsubscribe_url(api_settings, member_id, "email", "onboarding")).replace(
            "/unsubscribe/", "/preferences/"
        ),
    ):
        assert client.get(link).status_code == 403
        assert client.post(link, data=change).status_code == 403
    assert consents(client, member_id) == {}
    assert consent_events(api_settings, member_id) == []


def test_french_page_and_escaped_names(
    client: TestClient, api_settings: Settings, member_id: str
) -> None:
    put_member(client, member_id, locale="fr-CA", first_name="<b>Zoé</b>")
    link = path_of(preferences_url(api_settings, member_id))

    page = client.get(link)

    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    assert "Enregistrer" in page.text
    assert "&lt;b&gt;Zoé&lt;/b&gt;" in page.text and "<b>Zoé" not in page.text


def test_a_form_that_is_not_form_encoded_is_refused(
    client: TestClient, api_settings: Settings, member_id: str
) -> None:
    put_member(client, member_id)
    link = path_of(preferences_url(api_settings, member_id))

    response = client.post(link, json={"shown": "email:onboarding:on"})

    assert response.status_code == 415
    assert consent_events(api_settings, member_id) == []
