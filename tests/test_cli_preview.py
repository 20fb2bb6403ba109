"""`loyalflow preview` as a marketer runs it."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyalflow.cli import app
from loyalflow.config import Settings, get_settings
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
