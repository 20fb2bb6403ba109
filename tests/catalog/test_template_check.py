"""The journey validator's template check: files, syntax and variables, in plain words."""

from pathlib import Path

import pytest

from loyalflow.catalog.template_check import check_template, template_reads
from loyalflow.config import PACKAGE_DIR
from loyalflow.models.template_vars import MEMBER_FIELDS

TEMPLATES = PACKAGE_DIR / "templates"
LOCALES = ("en", "fr")

# Every shipped template: its channels, the params its send steps give, the trigger's properties.
SHIPPED: dict[str, tuple[tuple[str, ...], frozenset[str], frozenset[str] | None]] = {
    "welcome": (("email",), frozenset(), None),
    "welcome_reminder": (("email", "sms"), frozenset(), None),
    "first_purchase_thanks": (("email",), frozenset(), frozenset({"amount", "points"})),
    "cross_sell": (("email",), frozenset(), frozenset({"amount", "points"})),
    "reactivation_nudge": (("email", "sms"), frozenset(), frozenset()),
    "reactivation_welcome_back": (("email", "sms"), frozenset(), frozenset()),
    "reactivation_bonus": (("email", "sms"), frozenset({"bonus_points"}), frozenset()),
    "tier_upgrade": (("email",), frozenset({"bonus_points"}), frozenset({"from", "to"})),
    "points_reminder": (("email",), frozenset(), frozenset()),
    # Loyalty mechanics (issue 14)
    "points_expiring": (("email",), frozenset(), frozenset({"amount", "expires_at", "days"})),
    "near_next_tier": (("email",), frozenset(), frozenset({"needed", "next_tier"})),
    "referral_thanks": (("email",), frozenset(), frozenset({"role", "points"})),
    "birthday": (("email",), frozenset({"bonus_points"}), frozenset()),
    "redemption_confirmation": (
        ("email",),
        frozenset(),
        frozenset({"redemption_id", "reward_id", "points", "balance"}),
    ),
}


def _check(
    templates_dir: Path,
    name: str,
    channel: str = "email",
    *,
    locales: tuple[str, ...] = ("en",),
    params: frozenset[str] = frozenset(),
    trigger: frozenset[str] | None = frozenset(),
) -> list[str]:
    assert channel in ("email", "sms")
    return check_template(
        templates_dir,
        name,
        "email" if channel == "email" else "sms",
        locales=locales,
        params=params,
        trigger_properties=trigger,
        member_fields=MEMBER_FIELDS,
    )


def _email(
    root: Path, name: str, *, subject: str = "Hi", text: str = "Hello", html: str = "<p>Hello</p>"
) -> None:
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / "en.subject.txt").write_text(subject)
    (root / name / "en.txt").write_text(text)
    (root / name / "en.html").write_text(html)


def test_every_shipped_template_is_covered() -> None:
    folders = {p.name for p in TEMPLATES.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert folders == set(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_template_passes_in_english_and_french(name: str) -> None:
    channels, params, trigger = SHIPPED[name]
    for channel in channels:
        problems = _check(TEMPLATES, name, channel, locales=LOCALES, params=params, trigger=trigger)
        assert problems == []


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_what_each_shipped_template_reads_is_what_its_journey_gives(name: str) -> None:
    _, params, trigger = SHIPPED[name]
    reads = template_reads(TEMPLATES, name)
    assert reads["params"] == params
    assert reads["trigger"] <= (trigger or set())
    assert reads["member"] <= MEMBER_FIELDS and reads["program"] <= {"name", "currency"}


def test_the_shipped_templates_need_the_params_they_announce() -> None:
    problems = _check(TEMPLATES, "reactivation_bonus", "sms", locales=LOCALES)
    assert problems == [
        "reactivation_bonus/en.sms.txt line 2: params.bonus_points is not a param of this send "
        "step (it has none)",
        "reactivation_bonus/fr.sms.txt line 2: params.bonus_points is not a param of this send "
        "step (it has none)",
    ]


def test_a_missing_template_or_locale_file_is_reported(tmp_path: Path) -> None:
    assert _check(tmp_path, "nope") == [
        f"template 'nope' does not exist (no folder nope/ in {tmp_path})"
    ]
    _email(tmp_path, "promo")
    (tmp_path / "promo" / "fr.subject.txt").write_text("Salut")
    assert _check(tmp_path, "promo", locales=LOCALES) == [
        "promo/fr.txt is missing (an email template needs <locale>.subject.txt, <locale>.txt, "
        "<locale>.html)",
        "promo/fr.html is missing (an email template needs <locale>.subject.txt, <locale>.txt, "
        "<locale>.html)",
    ]
    assert _check(tmp_path, "promo", "sms") == [
        "promo/en.sms.txt is missing (an SMS template needs <locale>.sms.txt)"
    ]


def test_a_syntax_error_is_reported_with_its_file_and_line(tmp_path: Path) -> None:
    _email(tmp_path, "broken", text="Hello,\n\nYou have points.\n{% endif %}\n")
    assert _check(tmp_path, "broken") == [
        "broken/en.txt line 4: syntax error: Encountered unknown tag 'endif'."
    ]
    _email(tmp_path, "typo", html="<p>\n{{ member.points }\n</p>")
    (problem,) = _check(tmp_path, "typo")
    assert problem.startswith("typo/en.html line 2: syntax error: ")


def test_an_unknown_member_field_is_reported(tmp_path: Path) -> None:
    _email(tmp_path, "welcome", text="Hello\n\n{{ member.points }}\n{{ member.frist_name }}")
    assert _check(tmp_path, "welcome") == [
        "welcome/en.txt line 4: member.frist_name is not a member field "
        "(did you mean member.first_name?)"
    ]
    _email(tmp_path, "item", subject="{{ member['shoe_size'] }}")
    (problem,) = _check(tmp_path, "item")
    assert problem.startswith("item/en.subject.txt line 1: member.shoe_size is not a member field")


def test_an_unknown_param_or_trigger_property_is_reported(tmp_path: Path) -> None:
    _email(
        tmp_path,
        "bonus",
        text="{{ params.bonus_points }} and {{ params.bonus_pionts }}\n{{ trigger.too }}",
    )
    assert _check(
        tmp_path, "bonus", params=frozenset({"bonus_points"}), trigger=frozenset({"from", "to"})
    ) == [
        "bonus/en.txt line 1: params.bonus_pionts is not a param of this send step "
        "(did you mean params.bonus_points?)",
        "bonus/en.txt line 2: trigger.too is not a property of the trigger event "
        "(did you mean trigger.to?)",
    ]
    # An event whose properties are unknown (posted by clients): trigger.* is not checked.
    assert (
        _check(tmp_path, "bonus", params=frozenset({"bonus_points", "bonus_pionts"}), trigger=None)
        == []
    )


def test_guarded_reads_are_not_reported(tmp_path: Path) -> None:
    _email(
        tmp_path,
        "guarded",
        text=(
            '{{ trigger.get("to") or member.tier }}\n'
            "{% if params.code is defined %}{{ params['code'] }}{% endif %}\n"
            "{{ trigger.coupon | default('none') }}"
        ),
    )
    # `params['code']` inside the `is defined` test is still read without a guard.
    assert _check(tmp_path, "guarded") == [
        "guarded/en.txt line 2: params.code is not a param of this send step (it has none)"
    ]


def test_unknown_names_and_context_the_channel_lacks_are_reported(tmp_path: Path) -> None:
    _email(
        tmp_path,
        "names",
        text="{% set total = 3 %}{{ total }} {{ memebr.points }}\n{{ program.nmae }}",
        html='{% extends "_layouts/nope.html" %}',
    )
    assert _check(tmp_path, "names") == [
        "names/en.txt line 1: memebr is not defined (templates can use footer_locale, "
        "format_date, format_money, format_number, links, locale, member, params, program, "
        "subject, trigger, variant)",
        "names/en.txt line 2: program.nmae is not a program field (did you mean program.name?)",
        "names/en.html line 1: extends '_layouts/nope.html', which does not exist",
    ]
    (tmp_path / "names" / "en.sms.txt").write_text(
        "{{ links.unsubscribe }} {{ variant }} {{ locale }}"
    )
    (problem,) = _check(tmp_path, "names", "sms")
    assert problem.startswith("names/en.sms.txt line 1: links is not defined")


def test_a_layout_s_blocks_may_use_the_child_s_macros_and_sets(tmp_path: Path) -> None:
    (tmp_path / "_layouts").mkdir()
    (tmp_path / "_layouts" / "email.html").write_text("{% block content %}{% endblock %}")
    _email(
        tmp_path,
        "child",
        html=(
            '{% extends "_layouts/email.html" %}\n'
            "{% macro pts(n) %}{{ format_number(n) }} points{% endmacro %}\n"
            "{% set tier = member.tier %}\n"
            "{% block content %}{{ pts(member.points) }} {{ tier }} {{ subject }}{% endblock %}"
        ),
    )
    assert _check(tmp_path, "child") == []
