"""Template rendering: locale fallback, sandboxing, strict variables, escaping, formatting."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError
from jinja2.exceptions import SecurityError

from loyalflow.activities.channels.sms import sms_encoding
from loyalflow.activities.rendering import TemplateNotFound, TemplateRenderer, locale_candidates
from loyalflow.config import PACKAGE_DIR

TEMPLATES = PACKAGE_DIR / "templates"
MEMBER: dict[str, Any] = {
    "id": "M1",
    "first_name": "Ada",
    "email": "ada@example.com",
    "tier": None,
    "points": 1250,
    "joined_at": datetime(2026, 3, 1, 23, 30, tzinfo=UTC),
    "purchase_count": 0,
    "attributes": {},
}


def test_locale_candidates_go_from_specific_to_english() -> None:
    assert locale_candidates("fr-CA") == ["fr-CA", "fr", "en"]
    assert locale_candidates("fr_CA") == ["fr-CA", "fr", "en"]
    assert locale_candidates(None) == ["en"]


@pytest.mark.parametrize(
    ("locale", "chosen"), [("fr-CA", "fr"), ("fr", "fr"), ("de-DE", "en"), ("en-GB", "en")]
)
def test_the_most_specific_existing_translation_is_used(locale: str, chosen: str) -> None:
    renderer = TemplateRenderer(TEMPLATES, "Club")
    assert renderer.render_email("welcome", locale, MEMBER, "UTC").locale == chosen


def test_dates_and_numbers_follow_the_locale_and_timezone() -> None:
    renderer = TemplateRenderer(TEMPLATES, "Club")
    french = renderer.render_email("welcome", "fr", MEMBER, "Europe/Paris")
    # 23:30 UTC on 1 March is already 2 March in Paris; French groups thousands with a space.
    assert "2 mars 2026" in french.text
    assert "1\u202f250 points" in french.text
    english = renderer.render_email("welcome", "en", MEMBER, "America/New_York")
    assert "March 1, 2026" in english.text and "1,250 points" in english.text


def test_html_is_escaped_and_text_is_not() -> None:
    renderer = TemplateRenderer(TEMPLATES, "Club")
    rendered = renderer.render_email("welcome", "en", {**MEMBER, "first_name": "<b>Eve</b>"}, "UTC")
    assert "&lt;b&gt;Eve&lt;/b&gt;" in rendered.html and "<b>Eve</b>" not in rendered.html
    assert "Hello <b>Eve</b>," in rendered.text
    assert "\n" not in rendered.subject


def _write_template(root: Path, name: str, subject: str) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "en.subject.txt").write_text(subject)
    (root / name / "en.txt").write_text("text")
    (root / name / "en.html").write_text("<p>html</p>")


def test_an_unknown_variable_is_an_error_not_an_empty_string(tmp_path: Path) -> None:
    _write_template(tmp_path, "typo", "Hi {{ member.frist_name }}")
    with pytest.raises(UndefinedError):
        TemplateRenderer(tmp_path, "Club").render_email("typo", "en", MEMBER, "UTC")


def test_templates_cannot_reach_python_internals(tmp_path: Path) -> None:
    _write_template(tmp_path, "evil", "{{ format_date.__globals__ }}")
    with pytest.raises(SecurityError):
        TemplateRenderer(tmp_path, "Club").render_email("evil", "en", MEMBER, "UTC")


def test_a_missing_template_says_so(tmp_path: Path) -> None:
    with pytest.raises(TemplateNotFound, match="nope"):
        TemplateRenderer(tmp_path, "Club").render_email("nope", "en", MEMBER, "UTC")


def test_a_french_sms_stays_in_one_gsm_7_segment() -> None:
    """French number formatting must not switch the SMS to UCS-2 (three times the cost)."""
    sms = TemplateRenderer(TEMPLATES, "Club").render_sms("welcome_reminder", "fr", MEMBER, "UTC")
    assert "1 250 points" in sms.body
    assert sms_encoding(sms.body) == ("GSM-7", 1)
