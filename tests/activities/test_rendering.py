"""Template rendering: locale fallback, sandboxing, strict variables, escaping, formatting."""

from datetime import UTC, datetime
from decimal import Decimal
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


# The journeys' messages, rendered as a member will get them.
ADA: dict[str, Any] = {
    **MEMBER,
    "tier": "Gold",
    "points": 1292,
    "purchase_count": 1,
    "first_purchase_at": datetime(2026, 3, 4, 17, 5, tzinfo=UTC),
    "last_purchase_at": datetime(2026, 3, 4, 17, 5, tzinfo=UTC),
    "last_activity_at": datetime(2025, 11, 2, 10, 0, tzinfo=UTC),
    "total_spent": Decimal("42.50"),
    "tags": [],
}
NNBSP = "\u202f"  # Babel's French thousands separator
NBSP = "\u00a0"  # and the space before the currency sign


def _email(template: str, locale: str, member: dict[str, Any] = ADA, **extra: Any) -> str:
    rendered = TemplateRenderer(TEMPLATES, "Club").render_email(
        template, locale, member, "UTC", **extra
    )
    assert rendered.locale == locale
    assert "\n" not in rendered.subject
    return f"{rendered.subject}\n{rendered.text}\n{rendered.html}"


@pytest.mark.parametrize(
    ("variant", "english", "french"),
    [
        (None, "Welcome to Club, Ada!", "Bienvenue chez Club, Ada !"),
        ("a", "Welcome to Club, Ada!", "Bienvenue chez Club, Ada !"),
        ("b", "Ada, your first reward starts here", "Ada, votre première récompense commence ici"),
    ],
)
def test_the_welcome_subject_is_an_a_b_test(variant: str | None, english: str, french: str) -> None:
    renderer = TemplateRenderer(TEMPLATES, "Club")
    assert renderer.render_email("welcome", "en", ADA, "UTC", variant=variant).subject == english
    assert renderer.render_email("welcome", "fr", ADA, "UTC", variant=variant).subject == french
    nameless = {**ADA, "first_name": None}
    subject = renderer.render_email("welcome", "en", nameless, "UTC", variant=variant).subject
    assert subject == ("Your first reward starts here" if variant == "b" else "Welcome to Club!")


def test_first_purchase_thanks_shows_the_amount_the_points_and_the_balance() -> None:
    trigger = {"amount": 42.5, "points": 42}
    english = _email("first_purchase_thanks", "en", trigger=trigger)
    assert "Thank you, Ada! Your first purchase earned you 42 points" in english
    assert "Your order of €42.50 earned you 42 points" in english
    assert "Your balance is now 1,292 points" in english
    french = _email("first_purchase_thanks", "fr", trigger=trigger)
    assert "Merci, Ada ! Votre premier achat vous a rapporté 42 points" in french
    assert f"Votre commande de 42,50{NBSP}€ vous a rapporté 42 points" in french
    assert f"Votre solde est désormais de 1{NNBSP}292 points" in french


def test_amounts_are_in_the_programs_currency() -> None:
    renderer = TemplateRenderer(TEMPLATES, "Club", currency="USD")
    trigger = {"amount": 42.5, "points": 1}
    rendered = renderer.render_email("first_purchase_thanks", "en", ADA, "UTC", trigger=trigger)
    assert "Your order of $42.50 earned you 1 point." in rendered.text  # and 1 point, singular
    assert rendered.subject.endswith("earned you 1 point")


def test_cross_sell_recalls_the_first_purchase_and_the_balance() -> None:
    english = _email("cross_sell", "en")
    assert "your first purchase on March 4, 2026" in english
    assert "You already have 1,292 points" in english and "offers reserved for members" in english
    french = _email("cross_sell", "fr")
    assert "votre premier achat, effectué le 4 mars 2026" in french
    assert f"Vous avez déjà 1{NNBSP}292 points" in french


def test_reactivation_nudge_misses_the_member_since_their_last_visit() -> None:
    english = _email("reactivation_nudge", "en")
    assert "Ada, we miss you at Club" in english
    assert "Your last visit was on November 2, 2025" in english
    assert "You still have 1,292 points waiting for you" in english
    french = _email("reactivation_nudge", "fr")
    assert "Ada, vous nous manquez" in french
    assert "Votre dernière visite remonte au 2 novembre 2025" in french
    assert f"Il vous reste 1{NNBSP}292 points à utiliser" in french
    # No visit on record and no points: nothing awkward such as "0 points waiting".
    newcomer = {**ADA, "last_activity_at": None, "points": 0}
    text = _email("reactivation_nudge", "en", newcomer)
    assert "A lot has changed since your last visit" in text and "0 points" not in text


def test_reactivation_welcome_back_thanks_the_member() -> None:
    english = _email("reactivation_welcome_back", "en")
    assert "Welcome back, Ada!" in english and "thank you for coming back" in english
    assert "Your balance is now 1,292 points" in english
    french = _email("reactivation_welcome_back", "fr")
    assert "Quel plaisir de vous revoir, Ada !" in french and "Merci de votre retour" in french


def test_reactivation_bonus_announces_the_bonus_points() -> None:
    params = {"bonus_points": 200}
    english = _email("reactivation_bonus", "en", params=params)
    assert "Ada, we just added 200 bonus points to your account" in english
    assert "Your balance is now 1,292 points" in english
    french = _email("reactivation_bonus", "fr", params=params)
    assert "Ada, nous venons d'ajouter 200 points bonus à votre compte" in french


def test_a_param_the_step_does_not_give_is_an_error() -> None:
    with pytest.raises(UndefinedError, match="bonus_points"):
        _email("reactivation_bonus", "en")


def test_tier_upgrade_names_the_new_tier_and_its_benefits() -> None:
    trigger, params = {"from": "Silver", "to": "Platinum"}, {"bonus_points": 500}
    english = _email("tier_upgrade", "en", trigger=trigger, params=params)
    assert "Congratulations, Ada! You have reached Platinum status" in english
    assert "Your Platinum benefits:\n- Double points on every purchase\n" in english
    assert "<li>Invitations to private events</li>" in english
    assert "we have added 500 bonus points to your account" in english
    french = _email("tier_upgrade", "fr", trigger=trigger, params=params)
    assert "Félicitations, Ada ! Vous accédez au niveau Platinum" in french
    assert "Vos avantages au niveau Platinum :\n- Des points doublés à chaque achat" in french
    assert "nous avons ajouté 500 points bonus à votre compte" in french


def test_tier_upgrade_falls_back_to_the_members_tier_and_to_generic_benefits() -> None:
    params = {"bonus_points": 500}
    fallback = _email("tier_upgrade", "en", params=params)  # no trigger.to: member.tier (Gold)
    assert "You have reached Gold status" in fallback and "Free standard shipping" in fallback
    other = _email("tier_upgrade", "fr", trigger={"to": "Diamant"}, params=params)
    assert "Vous accédez au niveau Diamant" in other
    assert "Votre nouveau niveau vous offre encore plus de points" in other
    renderer = TemplateRenderer(TEMPLATES, "Club")
    vip = {"to": "<i>VIP</i>"}
    escaped = renderer.render_email("tier_upgrade", "en", ADA, "UTC", trigger=vip, params=params)
    assert "&lt;i&gt;VIP&lt;/i&gt;" in escaped.html and "<i>VIP</i>" not in escaped.html
    assert "You have reached <i>VIP</i> status" in escaped.text


@pytest.mark.parametrize(
    ("points", "english", "french"),
    [
        (
            1292,
            "That is already enough for a €10 voucher. Or keep saving: another 1,208 points and "
            "you can get a €25 voucher.",
            f"C'est déjà assez pour un bon d'achat de 10{NBSP}€. Ou continuez à cumuler : encore "
            f"1{NNBSP}208 points et vous pourrez obtenir un bon d'achat de 25{NBSP}€.",
        ),
        (
            120,
            "You are only 380 points away from your first reward: a €5 voucher.",
            f"Plus que 380 points avant votre première récompense : un bon d'achat de 5{NBSP}€.",
        ),
        (
            7000,
            "That is already enough for a €50 voucher.\n",
            f"C'est déjà assez pour un bon d'achat de 50{NBSP}€.\n",
        ),
    ],
)
def test_points_reminder_says_what_the_points_can_buy(
    points: int, english: str, french: str
) -> None:
    member = {**ADA, "points": points}
    text = _email("points_reminder", "en", member)
    assert f"Ada, you have {points:,} points to spend" in text and english in text
    assert french in _email("points_reminder", "fr", member)


SMS_CASES = [
    ("reactivation_nudge", {}, "Ada, we miss you! Last visit: Nov 2, 2025. You still have 1,292"),
    ("reactivation_welcome_back", {}, "Thanks for coming back, Ada!"),
    ("reactivation_bonus", {"bonus_points": 200}, "Ada, we just added 200 bonus points"),
]


@pytest.mark.parametrize(("template", "params", "english"), SMS_CASES)
def test_the_sms_stay_in_one_gsm_7_segment_and_say_how_to_opt_out(
    template: str, params: dict[str, Any], english: str
) -> None:
    renderer = TemplateRenderer(TEMPLATES, "Loyalty Program")
    member = {**ADA, "points": 12345}  # the longest: a five-digit balance
    en = renderer.render_sms(template, "en", {**ADA, "points": 1292}, "UTC", params=params)
    assert english in en.body and en.body.endswith("Reply STOP to opt out.")
    fr = renderer.render_sms(template, "fr", {**ADA, "points": 1292}, "UTC", params=params)
    assert fr.locale == "fr" and fr.body.endswith("STOP pour vous désabonner.")
    for locale in ("en", "fr"):
        sms = renderer.render_sms(template, locale, member, "UTC", params=params)
        assert sms_encoding(sms.body) == ("GSM-7", 1), sms.body
        assert "12 345 points" in sms.body or "12,345 points" in sms.body


def test_a_french_sms_date_stays_in_gsm_7() -> None:
    """French month abbreviations such as "août" are not GSM-7: the French SMS uses digits."""
    august = {**ADA, "last_activity_at": datetime(2025, 8, 14, 12, 0, tzinfo=UTC)}
    sms = TemplateRenderer(TEMPLATES, "Club").render_sms("reactivation_nudge", "fr", august, "UTC")
    assert "Dernière visite : 14/08/2025." in sms.body
    assert sms_encoding(sms.body)[0] == "GSM-7"


def test_trigger_dates_may_be_iso_strings_and_amounts_whole(tmp_path: Path) -> None:
    (tmp_path / "dates").mkdir()
    (tmp_path / "dates" / "fr.sms.txt").write_text(
        "{{ format_date(trigger.at) }} | {{ format_date(trigger.day) }} | "
        "{{ format_money(params.voucher, program.currency, cents=False) }} | "
        "{{ format_money(trigger.amount, program.currency) }}"
    )
    renderer = TemplateRenderer(tmp_path, "Club")
    trigger = {"at": "2026-03-01T23:30:00+00:00", "day": "2026-03-01", "amount": "42.5"}
    rendered = renderer.render_sms(
        "dates", "fr", ADA, "Europe/Paris", trigger=trigger, params={"voucher": 5}
    )
    # 23:30 UTC is the next day in Paris; a date alone stays as it is.
    assert rendered.body == "2 mars 2026 | 1 mars 2026 | 5 € | 42,50 €"
