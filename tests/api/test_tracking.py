"""Engagement tracking end to end: a journey's email received over SMTP, its links followed and
its pixel loaded through the real app, and a `wait_for` on the click (issue 16)."""

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from loyalflow.api.app import create_app
from loyalflow.catalog.registry import get_catalog, publish_versions
from loyalflow.config import Settings
from loyalflow.members.engagement import delete_engagement
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event, Message
from loyalflow.models.tracking_tables import EngagementHit
from loyalflow.models.workflow_io import JourneyResult
from tests.smtp_server import SmtpServer
from tests.worker_helpers import worker_sending_to
from tests.workflows.journey_kit import with_journeys

JOURNEY = """
id: click_follow_up
name: Follow up on the welcome email
trigger: {event: member.joined}
re_entry: never
topic: onboarding
steps:
  - id: welcome_email
    kind: send
    channel: email
    template: welcome
  - id: wait_click
    kind: wait_for
    event: email.clicked
    condition: "event.step == 'welcome_email'"
    timeout: 3d
    on_event: clicked
    on_timeout: not_clicked
  - id: not_clicked
    kind: wait
    duration: 1s
    next: end
  - id: clicked
    kind: wait
    duration: 1s
"""
BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)
PROGRAM_URL = "https://shop.example.com/rewards?ref=mail"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"] or "")
        if tag == "img" and values.get("src"):
            self.images.append(values["src"] or "")


@pytest.fixture
def tracked(settings: Settings, tmp_path: Path, dev_server_env: WorkflowEnvironment) -> Settings:
    chosen = with_journeys(settings, tmp_path / "journeys", JOURNEY)
    address = dev_server_env.client.service_client.config.target_host
    chosen = chosen.model_copy(
        update={
            "temporal_address": address,
            # Clicked at once by the test: the "too soon after sending" rule has its own test.
            "tracking_bot_seconds": 0.0,
            "program_url": PROGRAM_URL,
            "bounce_domain": "bounces.example.com",
        }
    )
    publish_versions(chosen.effective_database_url, get_catalog(chosen))
    return chosen


@pytest.fixture
async def worker(
    dev_server_env: WorkflowEnvironment, tracked: Settings, smtp_server: SmtpServer
) -> AsyncIterator[None]:
    async with worker_sending_to(dev_server_env.client, tracked, smtp_server):
        yield


@pytest.fixture
def api(tracked: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(tracked)) as client:
        yield client


async def _received(server: SmtpServer, within: float = 30) -> EmailMessage:
    deadline = time.monotonic() + within
    while not server.messages:
        assert time.monotonic() < deadline, "no email arrived"
        await asyncio.sleep(0.1)
    return server.messages[0]


def _hits(settings: Settings, message_id: str) -> list[EngagementHit]:
    with session_scope(settings.effective_database_url) as session:
        return list(
            session.exec(select(EngagementHit).where(EngagementHit.message_id == message_id))
        )


def _events(settings: Settings, member_id: str, prefix: str = "email.") -> list[Event]:
    with session_scope(settings.effective_database_url) as session:
        rows = session.exec(
            select(Event)
            .where(Event.member_id == member_id, col(Event.type).startswith(prefix))
            .order_by(col(Event.occurred_at))
        )
        return list(rows)


def _join(api: TestClient, member_id: str) -> None:
    body = {"email": "alice@example.com", "first_name": "Alice", "locale": "en"}
    assert api.put(f"/members/{member_id}", json=body).status_code in (200, 201)
    joined = {
        "event_id": f"join-{member_id}",
        "member_id": member_id,
        "type": "member.joined",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    assert api.post("/events", json=joined).status_code == 202


async def test_a_click_in_the_received_email_is_recorded_and_ends_the_wait(
    tracked: Settings,
    worker: None,
    api: TestClient,
    smtp_server: SmtpServer,
    dev_server_env: WorkflowEnvironment,
    member_id: str,
) -> None:
    _join(api, member_id)
    received = await _received(smtp_server)
    html_part = received.get_body(("html",))
    text_part = received.get_body(("plain",))
    assert html_part is not None and text_part is not None
    links = _Links()
    links.feed(html_part.get_content())
    public = tracked.public_url

    # The call to action and nothing else is tracked; the footer's links and the header are not.
    tracked_links = [h for h in links.hrefs if h.startswith(f"{public}/t/c/")]
    assert len(tracked_links) == 1
    assert {urlsplit(h).path.split("/")[1] for h in links.hrefs} == {
        "t",
        "unsubscribe",
        "preferences",
    }
    assert "/unsubscribe/" in received["List-Unsubscribe"]
    assert PROGRAM_URL not in html_part.get_content()
    text_links = re.findall(r"https?://\S+", text_part.get_content())
    assert tracked_links[0] in text_links  # the same destination, the same position
    with session_scope(tracked.effective_database_url) as session:
        message = session.exec(select(Message).where(Message.member_id == member_id)).one()
    assert smtp_server.handler.senders == [f"bounces+{message.message_id}@bounces.example.com"]

    # The pixel, then every tracked link, as a mail client and a browser fetch them.
    [pixel] = [src for src in links.images if "/t/o/" in src]
    opened = api.get(urlsplit(pixel).path, headers={"User-Agent": BROWSER})
    assert opened.status_code == 200 and opened.headers["content-type"] == "image/gif"
    assert "no-store" in opened.headers["cache-control"]
    for link in tracked_links:
        clicked = api.get(
            urlsplit(link).path, headers={"User-Agent": BROWSER}, follow_redirects=False
        )
        assert clicked.status_code == 302
        destination = urlsplit(clicked.headers["location"])
        assert destination.netloc == "shop.example.com" and destination.path == "/rewards"
        query = parse_qs(destination.query)
        assert query["ref"] == ["mail"]
        assert query["utm_campaign"] == ["click_follow_up"]
        assert query["utm_content"] == ["welcome_email"]
        assert query["utm_medium"] == ["email"]

    hits = _hits(tracked, message.message_id)
    assert sorted((h.kind, h.human, h.rule) for h in hits) == [
        ("click", True, "human"),
        ("open", True, "human"),
    ]
    types = [e.type for e in _events(tracked, member_id)]
    assert types == ["email.opened", "email.clicked"]
    click_event = _events(tracked, member_id)[-1]
    assert click_event.properties["step"] == "welcome_email"
    assert click_event.properties["journey"] == "click_follow_up"
    assert click_event.properties["message_id"] == message.message_id
    assert click_event.properties["human"] is True
    assert click_event.properties["url"].startswith(
        "https://shop.example.com/rewards?ref=mail&utm_"
    )

    with session_scope(tracked.effective_database_url) as session:
        row = session.get(Message, message.message_id)
        assert row is not None and row.first_opened_at and row.first_clicked_at
        assert row.first_opened_at <= row.first_clicked_at

    timeline = api.get(f"/members/{member_id}/timeline").json()
    summaries = [entry["summary"] for entry in timeline["entries"]]
    assert "email.opened" in summaries and "email.clicked" in summaries

    # The wait_for ended on the click, not on its 3-day timeout.
    handle = dev_server_env.client.get_workflow_handle(
        message.workflow_id, result_type=JourneyResult
    )
    result = await asyncio.wait_for(handle.result(), timeout=30)
    trail = [(t.step, t.outcome) for t in result.trail]
    assert "clicked" in [step for step, _ in trail] and "not_clicked" not in [s for s, _ in trail]

    # Erasure takes the member's engagement with it.
    assert delete_engagement(tracked.effective_database_url, member_id) == 2
    assert _hits(tracked, message.message_id) == []
    assert _events(tracked, member_id) == []


async def test_tampered_tokens_and_scanners_change_nothing(
    tracked: Settings,
    worker: None,
    api: TestClient,
    smtp_server: SmtpServer,
    member_id: str,
) -> None:
    _join(api, member_id)
    received = await _received(smtp_server)
    html_part = received.get_body(("html",))
    assert html_part is not None
    links = _Links()
    links.feed(html_part.get_content())
    [link] = [h for h in links.hrefs if "/t/c/" in h]
    [unsubscribe] = [h for h in links.hrefs if "/unsubscribe/" in h]
    path = urlsplit(link).path
    token = path.rsplit("/", 1)[1]
    body, signature = token.rsplit(".", 1)
    forged = [
        f"{body[:-1]}{'A' if body[-1] != 'A' else 'B'}.{signature}",  # another message/position
        f"{body}.{signature[::-1]}",
        "https%3A%2F%2Fevil.example.com",
        token[:-3],
    ]
    for bad in forged:
        response = api.get(f"/t/c/{bad}", headers={"User-Agent": BROWSER}, follow_redirects=False)
        assert response.status_code == 404, bad
        assert "location" not in response.headers
    assert api.get("/t/o/not-a-token.gif").status_code == 404
    # A click token is not an open token.
    assert api.get(f"/t/o/{token}.gif").status_code == 404
    with session_scope(tracked.effective_database_url) as session:
        message = session.exec(select(Message).where(Message.member_id == member_id)).one()
    assert _hits(tracked, message.message_id) == []

    # A security gateway: a HEAD on the link, then GETs on every link including unsubscribe.
    assert api.head(path, follow_redirects=False).status_code == 302
    assert (
        api.get(
            path, headers={"User-Agent": "Mimecast-LinkScanner/2.0"}, follow_redirects=False
        ).status_code
        == 302
    )
    page = api.get(urlsplit(unsubscribe).path, headers={"User-Agent": "Mimecast-LinkScanner/2.0"})
    assert page.status_code == 200
    consents = api.get(f"/members/{member_id}").json()["consents"]
    assert consents == []  # the GET only shows the confirmation page
    hits = _hits(tracked, message.message_id)
    assert sorted(h.rule or "" for h in hits) == ["bot:head", "bot:user_agent"]
    assert not any(h.human for h in hits)
    # Machine hits are kept as events but never routed to journeys; the ledger ignores them.
    machine_events = _events(tracked, member_id)
    assert [e.properties["human"] for e in machine_events] == [False, False]
    assert all(e.routed for e in machine_events)
    with session_scope(tracked.effective_database_url) as session:
        row = session.get(Message, message.message_id)
        assert row is not None and row.first_clicked_at is None and row.first_opened_at is None
