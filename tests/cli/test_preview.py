"""`loyalflow preview` as a marketer runs it."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyalflow.cli.app import app
from loyalflow.config import Settings, get_settings
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Enrollment
from tests.journey_helpers import create_member


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("LOYALFLOW_HOME", str(settings.home))
    monkeypatch.setenv("LOYALFLOW_DATABASE_URL", settings.effective_database_url)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def test_preview_renders_email_and_sms_with_the_members_data(
    cli_env: Settings, member_id: str, tmp_path: Path
) -> None:
    create_member(cli_env, member_id, email="zoe@example.com", first_name="Zoé", locale="fr-CA")
    html = tmp_path / "out.html"
    result = CliRunner().invoke(
        app, ["preview", "welcome_reminder", "--member", member_id, "--html", str(html)]
    )
    assert result.exit_code == 0, result.output
    assert "Zoé, vos avantages" in result.output  # fr-CA falls back to the French template
    assert "GSM-7" in result.output and "1 segment(s)" in result.output
    assert "<html" in html.read_text() and "Zoé" in html.read_text()


def test_preview_without_a_member_uses_sample_data(cli_env: Settings, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["preview", "welcome", "--html", str(tmp_path / "w.html")])
    assert result.exit_code == 0, result.output
    assert "Welcome to Loyalty Program, Camille!" in result.output


def test_preview_of_an_unknown_template_or_member_fails_clearly(
    cli_env: Settings, tmp_path: Path
) -> None:
    unknown = CliRunner().invoke(app, ["preview", "nope"])
    assert unknown.exit_code == 1 and "no template 'nope'" in unknown.output
    nobody = CliRunner().invoke(app, ["preview", "welcome", "--member", "GHOST"])
    assert nobody.exit_code == 1 and "no member 'GHOST'" in nobody.output


def test_preview_fills_in_sample_trigger_values_and_params(
    cli_env: Settings, tmp_path: Path
) -> None:
    html = str(tmp_path / "p.html")
    thanks = CliRunner().invoke(
        app, ["preview", "first_purchase_thanks", "--member", "sample", "--html", html]
    )
    assert thanks.exit_code == 0, thanks.output
    assert "Thank you, Camille! Your first purchase earned you 42 points" in thanks.output
    assert "Your order of €42.50 earned you <strong>42 points</strong>" in Path(html).read_text()
    bonus = CliRunner().invoke(app, ["preview", "reactivation_bonus", "--html", html])
    assert bonus.exit_code == 0, bonus.output
    assert "GSM-7" in bonus.output and "we just added 200 bonus points" in bonus.output


def test_preview_takes_trigger_values_params_and_the_variant(
    cli_env: Settings, tmp_path: Path
) -> None:
    html = tmp_path / "t.html"
    args = ["preview", "tier_upgrade", "--locale", "fr", "--html", str(html)]
    tier = CliRunner().invoke(
        app, [*args, "--trigger", "to=Platinum", "--param", "bonus_points=500"]
    )
    assert tier.exit_code == 0, tier.output
    assert "Vous accédez au niveau Platinum" in tier.output
    assert "500 points bonus" in html.read_text()
    welcome = CliRunner().invoke(app, ["preview", "welcome", "--variant", "b", "--html", str(html)])
    assert welcome.exit_code == 0, welcome.output
    assert "Camille, your first reward starts here" in welcome.output
    bad = CliRunner().invoke(app, ["preview", "welcome", "--trigger", "oops"])
    assert bad.exit_code == 2 and "'oops' is not key=value" in bad.output


def test_preview_says_which_value_a_template_still_needs(
    cli_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "coupon").mkdir()
    (tmp_path / "coupon" / "en.sms.txt").write_text("Your code: {{ params.code }}")
    monkeypatch.setenv("LOYALFLOW_TEMPLATES_DIR", str(tmp_path))
    get_settings.cache_clear()
    missing = CliRunner().invoke(app, ["preview", "coupon"])
    assert missing.exit_code == 1 and "--param name=value" in missing.output
    given = CliRunner().invoke(app, ["preview", "coupon", "--param", "code=WELCOME10"])
    assert given.exit_code == 0 and "Your code: WELCOME10" in given.output


def test_preview_shows_the_members_assigned_variant_and_writes_under_the_home(
    cli_env: Settings, member_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_member(cli_env, member_id, email="zoe@example.com", first_name="Zoé")
    with session_scope(cli_env.effective_database_url) as session:
        session.add(
            Enrollment(
                workflow_id=f"journey-welcome-{member_id}",
                journey_id="welcome",
                journey_version="test",
                member_id=member_id,
                variant="b",
            )
        )
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)

    result = CliRunner().invoke(app, ["preview", "welcome", "--member", member_id])

    assert result.exit_code == 0, result.output
    assert "Zoé, your first reward starts here" in result.output
    assert "variant b" in result.output
    written = cli_env.home / "output" / "welcome.en.html"
    assert "Zoé" in written.read_text()
    assert list(cwd.iterdir()) == []  # nothing in the current directory


def test_preview_counts_sms_segments_on_the_shortened_links(
    cli_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    templates = tmp_path / "templates"
    (templates / "promo").mkdir(parents=True)
    long_link = "https://shop.example.com/" + "x" * 200
    (templates / "promo" / "en.sms.txt").write_text(f"Your offer: {long_link}")
    monkeypatch.setenv("LOYALFLOW_TEMPLATES_DIR", str(templates))
    plain = CliRunner().invoke(app, ["preview", "promo"])
    assert plain.exit_code == 0, plain.output
    assert "2 segment(s)" in plain.output
    monkeypatch.setenv("LOYALFLOW_TRACKING_SMS_LINKS", "true")
    get_settings.cache_clear()
    short = CliRunner().invoke(app, ["preview", "promo"])
    assert short.exit_code == 0, short.output
    assert (
        "/t/s/" in short.output and "1 segment(s)" in short.output and "x" * 50 not in short.output
    )
