"""Link rewriting and the pixel at send time: what is tracked, what never is (issue 16)."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from loyalflow.activities.rendering import TemplateRenderer
from loyalflow.activities.tracking_links import LinkTracker
from loyalflow.config import PACKAGE_DIR, Settings
from loyalflow.models.workflow_io import SendRequest
from loyalflow.rules.messaging import policy_from
from loyalflow.security.tracking_tokens import (
    TrackingTokenInvalid,
    make_tracking_token,
    read_tracking_token,
)

UNSUBSCRIBE = "http://127.0.0.1:8000/unsubscribe/abc"
PREFERENCES = "http://127.0.0.1:8000/preferences/def"
MEMBER = {"first_name": "Alice", "joined_at": datetime(2026, 1, 5, tzinfo=UTC), "points": 10}


@pytest.fixture
def base(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, program_url="https://shop.example.com/", _env_file=None)


def request(topic: str = "onboarding", channel: str = "email") -> SendRequest:
    return SendRequest(
        message_id=str(uuid.uuid4()),
        workflow_id="wf",
        journey_id="welcome",
        step_id="welcome_email",
        member_id="M-1",
        channel=channel,
        template="welcome",
        topic=topic,
        due_at=datetime.now(UTC),
        variant="b",
    )


def render(settings: Settings, locale: str = "en") -> tuple[str, str]:
    renderer = TemplateRenderer(PACKAGE_DIR / "templates", "Club", program_url=settings.program_url)
    email = renderer.render_email(
        "welcome", locale, MEMBER, "UTC", {"unsubscribe": UNSUBSCRIBE, "preferences": PREFERENCES}
    )
    tracker = LinkTracker(settings, policy_from(settings.messaging_policy_file))
    tracked, links = tracker.track_email(request(), email, {UNSUBSCRIBE, PREFERENCES})
    assert links.urls == (
        [
            "https://shop.example.com/?utm_source=loyalflow&utm_medium=email"
            "&utm_campaign=welcome&utm_content=welcome_email-b"
        ]
        if settings.tracking != "off"
        else []
    )
    return tracked.html, tracked.text


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_the_call_to_action_is_tracked_and_the_footer_is_not(base: Settings, locale: str) -> None:
    html, text = render(base, locale)
    assert "https://shop.example.com" not in html + text
    assert html.count("/t/c/") == 1 and text.count("/t/c/") == 1
    assert UNSUBSCRIBE in html and PREFERENCES in html
    assert UNSUBSCRIBE in text and PREFERENCES in text
    assert html.count("/t/o/") == 1 and html.index("/t/o/") < html.index("</body>")
    assert ("Découvrir" if locale == "fr" else "Visit") in html


def test_clicks_only_means_no_pixel(base: Settings) -> None:
    html, _ = render(base.model_copy(update={"tracking": "clicks"}))
    assert "/t/c/" in html and "/t/o/" not in html


def test_tracking_off_leaves_the_message_alone(base: Settings) -> None:
    html, text = render(base.model_copy(update={"tracking": "off"}))
    assert "/t/" not in html + text
    assert "https://shop.example.com/" in html


def test_transactional_topics_are_not_tracked_by_default(base: Settings) -> None:
    tracker = LinkTracker(base, policy_from(base.messaging_policy_file))
    assert tracker.tracks(request("onboarding"))
    assert not tracker.tracks(request("service"))  # `email: always`


def test_sms_links_are_shortened_only_when_asked(base: Settings) -> None:
    body = "Your bonus: https://shop.example.com/bonus?x=1. Reply STOP to opt out"
    off = LinkTracker(base, policy_from(base.messaging_policy_file))
    assert off.track_sms(request(channel="sms"), body)[0] == body
    on = LinkTracker(
        base.model_copy(update={"tracking_sms_links": True, "tracking_utm_source": ""}),
        policy_from(base.messaging_policy_file),
    )
    short, links = on.track_sms(request(channel="sms"), body)
    assert links.urls == ["https://shop.example.com/bonus?x=1"]
    assert "/t/s/" in short and short.endswith(". Reply STOP to opt out")


def test_tokens_are_short_signed_and_kind_bound(base: Settings) -> None:
    message_id = str(uuid.uuid4())
    token = make_tracking_token(base, "click", message_id, 3)
    assert len(token) < 60 and message_id not in token
    hit = read_tracking_token(base, "click", token)
    assert (hit.message_id, hit.position) == (message_id, 3)
    for kind in ("open", "sms"):
        with pytest.raises(TrackingTokenInvalid):
            read_tracking_token(base, kind, token)
    other = base.model_copy(update={"home": base.home / "other"})  # another deployment's key
    with pytest.raises(TrackingTokenInvalid):
        read_tracking_token(other, "click", token)
