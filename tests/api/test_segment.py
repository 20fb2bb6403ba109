"""The Segment HTTP tracking API, driven by the official `segment-analytics-python` library
(which nobody here wrote) against a live API process, and by raw HTTP for what the library
will not send."""

import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from segment.analytics.client import Client
from segment.analytics.request import APIError
from sqlmodel import col, select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from loyalflow.models.anonymous_tables import AnonymousEvent
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event
from tests.api.conftest import OTHER_SOURCE_KEY, WRITE_KEY, LiveApi
from tests.conftest import unique_member_id


def segment_client(api: LiveApi, write_key: str = WRITE_KEY, **options: Any) -> Client:
    """As a brand configures it, but synchronous: each call is one /v1/batch request and its
    errors are raised here rather than logged by a background thread."""
    return Client(write_key, host=api.url, sync_mode=True, max_retries=0, **options)


def stored_events(api: LiveApi, member_id: str) -> list[Event]:
    with session_scope(api.settings.effective_database_url) as session:
        rows = session.exec(
            select(Event)
            .where(Event.member_id == member_id)
            .order_by(col(Event.occurred_at), col(Event.event_id))
        )
        return list(rows)


def member(api: LiveApi, member_id: str) -> dict[str, Any]:
    response = httpx.get(f"{api.url}/members/{member_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def journey_status(
    env: WorkflowEnvironment, member_id: str
) -> WorkflowExecutionStatus | None:
    handle = env.client.get_workflow_handle(f"journey-review_thanks-{member_id}")
    try:
        return (await handle.describe()).status
    except RPCError:
        return None


def post(api: LiveApi, path: str, body: Any, key: str = WRITE_KEY, **kw: Any) -> httpx.Response:
    return httpx.post(f"{api.url}/v1/{path}", json=body, auth=(key, ""), timeout=30, **kw)


async def test_the_official_client_creates_members_and_events_and_starts_a_journey(
    live_api: LiveApi, dev_server_env: WorkflowEnvironment
) -> None:
    member_id = unique_member_id("seg")
    analytics = segment_client(live_api)
    analytics.identify(
        member_id,
        {"email": "Ada@Example.com", "firstName": "Ada", "plan": "gold"},
        context={"locale": "fr-FR", "timezone": "Europe/Paris"},
    )
    analytics.track(member_id, "Signed Up", {"source": "website"})
    analytics.track(
        member_id, "Order Completed", {"order_id": "O-1", "revenue": 42.5, "currency": "EUR"}
    )
    analytics.track(member_id, "Review Posted", {"rating": 5, "product_id": "P-7"})
    analytics.page(member_id, name="Home", properties={"path": "/"})

    profile = member(live_api, member_id)
    assert profile["email"] == "Ada@example.com"  # the domain of an address is not case-sensitive
    assert (profile["first_name"], profile["locale"], profile["timezone"]) == (
        "Ada",
        "fr-FR",
        "Europe/Paris",
    )
    assert profile["attributes"] == {"plan": "gold"}
    assert profile["joined_at"] is not None
    assert (profile["purchase_count"], profile["total_spent"]) == (1, 42.5)
    types = [event.type for event in stored_events(live_api, member_id)]
    assert sorted(types) == sorted(
        ["profile.updated", "member.joined", "purchase", "purchase.first", "review.posted", "visit"]
    )
    assert await journey_status(dev_server_env, member_id) == WorkflowExecutionStatus.RUNNING


async def test_a_batch_from_the_background_uploader_and_a_resent_message_id(
    live_api: LiveApi,
) -> None:
    member_id = unique_member_id("seg")
    analytics = Client(WRITE_KEY, host=live_api.url, upload_size=10, max_retries=0)
    analytics.identify(member_id, {"email": "bo@example.com"})
    for n in range(5):
        analytics.track(member_id, "Order Completed", {"order_id": f"O-{n}", "total": 10})
    analytics.track(member_id, "Store Visited", {"store_id": "S-1"}, message_id="visit-once")
    analytics.flush()
    analytics.shutdown()
    before = member(live_api, member_id)
    assert (before["purchase_count"], before["total_spent"]) == (5, 50)
    count = len(stored_events(live_api, member_id))

    again = segment_client(live_api)
    again.track(member_id, "Store Visited", {"store_id": "S-1"}, message_id="visit-once")
    resent = post(
        live_api,
        "track",
        {
            "userId": member_id,
            "event": "Store Visited",
            "messageId": "visit-once",
            "properties": {"store_id": "S-1"},
        },
    )

    assert resent.json() == {
        "success": True,
        "accepted": 0,
        "duplicates": 1,
        "anonymous": 0,
        "attached": 0,
        "rejected": [],
        "routing": "done",
    }
    assert len(stored_events(live_api, member_id)) == count
    assert member(live_api, member_id) == before


async def test_anonymous_events_wait_for_identify_and_only_then_start_journeys(
    live_api: LiveApi, dev_server_env: WorkflowEnvironment
) -> None:
    member_id, visitor = unique_member_id("seg"), f"anon-{uuid.uuid4()}"
    analytics = segment_client(live_api)
    analytics.page(anonymous_id=visitor, name="Product")
    analytics.track(
        anonymous_id=visitor, event="Review Posted", properties={"rating": 4, "product_id": "P"}
    )
    with session_scope(live_api.settings.effective_database_url) as session:
        kept = session.exec(select(AnonymousEvent).where(AnonymousEvent.anonymous_id == visitor))
        assert sorted(e.type for e in kept) == ["review.posted", "visit"]
    assert await journey_status(dev_server_env, member_id) is None

    response = post(
        live_api, "identify", {"userId": member_id, "anonymousId": visitor, "traits": {}}
    )
    assert response.json()["attached"] == 2, response.text

    assert sorted(e.type for e in stored_events(live_api, member_id)) == [
        "profile.updated",
        "review.posted",
        "visit",
    ]
    assert await journey_status(dev_server_env, member_id) == WorkflowExecutionStatus.RUNNING
    # Later anonymous events of the same visitor are the member's at once.
    analytics.screen(anonymous_id=visitor, name="Cart")
    assert [e.properties.get("channel") for e in stored_events(live_api, member_id)].count(
        "app"
    ) == 1


def test_timestamp_is_corrected_by_sent_at(live_api: LiveApi) -> None:
    member_id = unique_member_id("seg")
    # The device's clock is two days behind; the event happened one hour before the send.
    sent_at = datetime.now(UTC) - timedelta(days=2)
    body = {
        "userId": member_id,
        "event": "App Opened",
        "timestamp": (sent_at - timedelta(hours=1)).isoformat(),
        "sentAt": sent_at.isoformat(),
    }
    assert post(live_api, "track", body).status_code == 200

    (event,) = stored_events(live_api, member_id)
    expected = datetime.now(UTC) - timedelta(hours=1)
    assert abs(event.occurred_at - expected) < timedelta(seconds=30)


def test_wrong_write_key_is_refused(live_api: LiveApi) -> None:
    with pytest.raises(APIError) as raised:
        segment_client(live_api, write_key="not-a-key").track("M-x", "App Opened")
    assert raised.value.status == 401
    raw = post(live_api, "track", {"userId": "M-x", "event": "App Opened"}, key="nope")
    assert raw.status_code == 401
    assert raw.json()["success"] is False
    no_auth = httpx.post(f"{live_api.url}/v1/track", json={"userId": "M-x", "event": "x"})
    assert no_auth.status_code == 401
    # Every source's key is accepted.
    other = {"userId": unique_member_id("seg"), "event": "App Opened"}
    assert post(live_api, "track", other, key=OTHER_SOURCE_KEY).status_code == 200


def test_undeclared_event_is_refused_with_its_name(live_api: LiveApi) -> None:
    member_id = unique_member_id("seg")
    with pytest.raises(APIError) as raised:
        segment_client(live_api).track(member_id, "Review Postd", {"rating": 5})
    assert raised.value.status == 400
    assert "unknown event type 'review.postd'" in str(raised.value.message)
    assert "did you mean 'review.posted'" in str(raised.value.message)

    raw = post(live_api, "track", {"userId": member_id, "event": "Review Posted"})
    assert raw.status_code == 400
    assert raw.json()["errors"][0]["field"] == "properties.rating"
    assert stored_events(live_api, member_id) == []


def test_malformed_and_oversize_bodies(live_api: LiveApi) -> None:
    broken = httpx.post(
        f"{live_api.url}/v1/batch",
        content=b'{"batch": [{"type": "track",',
        headers={"Content-Type": "application/json"},
        auth=(WRITE_KEY, ""),
    )
    assert broken.status_code == 400
    assert broken.json()["code"] == "invalid_json"

    huge = {"batch": [{"type": "page", "userId": "M-1", "properties": {"x": "y" * 600_000}}]}
    too_big = post(live_api, "batch", huge)
    assert too_big.status_code == 400
    assert "500 KB" in too_big.json()["message"]

    packed = gzip.compress(json.dumps(huge).encode())  # small on the wire, not once inflated
    zipped = httpx.post(
        f"{live_api.url}/v1/batch",
        content=packed,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        auth=(WRITE_KEY, ""),
    )
    assert zipped.status_code == 400
    assert zipped.json()["code"] == "request_too_large"


def test_a_batch_keeps_its_good_messages(live_api: LiveApi) -> None:
    member_id = unique_member_id("seg")
    batch = [
        {"type": "track", "userId": member_id, "event": "App Opened", "messageId": "ok-1"},
        {"type": "track", "userId": member_id, "event": "Teleported", "messageId": "bad-1"},
        {"type": "page", "userId": member_id, "properties": {"blob": "z" * 40_000}},
        {"type": "identify", "userId": member_id, "traits": {"email": "not-an-email"}},
        {
            "type": "track",
            "userId": member_id,
            "event": "Order Completed",
            "messageId": "ok-2",
            "properties": {"total": 20},
        },
    ]
    response = post(live_api, "batch", {"batch": batch})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["success"], body["accepted"]) == (True, 2)
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [
        (1, "event"),
        (2, "(message)"),
        (3, "traits.email"),
    ]
    assert "32 KB" in body["rejected"][1]["message"]
    assert {e.event_id for e in stored_events(live_api, member_id)} >= {"ok-1", "ok-2"}
    # /v1/import takes the same batches; the messages already stored are duplicates.
    imported = post(live_api, "import", {"batch": [batch[0], batch[4]]}).json()
    assert (imported["accepted"], imported["duplicates"]) == (0, 2)
