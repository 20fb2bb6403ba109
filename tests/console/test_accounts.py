"""Accounts without a browser, on the real databases: `loyalflow users`, Argon2 hashes,
throttling per client address, session expiry and disabled users; and the parts of the console
that must not drift (the French catalogue, the vendored htmx)."""

import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from loyalflow.cli.app import app
from loyalflow.config import Settings, get_settings
from loyalflow.console.accounts import add_user, authenticate
from loyalflow.console.i18n import CATALOGS
from loyalflow.console.masking import redact, shown_as
from loyalflow.console.rendering import NAVIGATION, STATIC_DIR, TEMPLATES_DIR
from loyalflow.console.sessions import find_session, start_session
from loyalflow.models.console_tables import AuditEntry, ConsoleSession, ConsoleUser
from loyalflow.models.db import session_scope

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long enough password"


def name() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("LOYALFLOW_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LOYALFLOW_HOME", str(settings.home))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def actions(settings: Settings, target: str) -> list[tuple[str, str]]:
    with session_scope(settings.effective_database_url) as session:
        rows = session.exec(
            select(AuditEntry.actor, AuditEntry.action)
            .where(AuditEntry.target == target)
            .order_by(col(AuditEntry.id))
        )
        return [(actor, action) for actor, action in rows]


def test_users_add_list_disable(cli: CliRunner, settings: Settings) -> None:
    alice = name()
    added = cli.invoke(
        app, ["users", "add", alice, "--role", "support", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert added.exit_code == 0, added.output
    with session_scope(settings.effective_database_url) as session:
        row = session.exec(select(ConsoleUser).where(ConsoleUser.name == alice)).one()
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    # Typed at the prompt: asked twice.
    bob = name()
    typed = cli.invoke(
        app, ["users", "add", bob, "--role", "marketer"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert typed.exit_code == 0, typed.output

    listed = cli.invoke(app, ["users", "list", "--json"])
    users = {u["name"]: u for u in json.loads(listed.stdout)}
    assert users[alice] == {"name": alice, "role": "support", "locale": None, "disabled": False}
    assert users[bob]["role"] == "marketer"

    for args, problem in (
        (["users", "add", alice, "--role", "support", "--password-stdin"], "already exists"),
        (["users", "add", name(), "--role", "owner", "--password-stdin"], "one of admin"),
        (["users", "add", "bad name", "--role", "admin", "--password-stdin"], "user name"),
    ):
        refused = cli.invoke(app, args, input=PASSWORD + "\n")
        assert refused.exit_code == 2 and problem in refused.output
    short = cli.invoke(
        app, ["users", "add", name(), "--role", "admin", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 2 and "at least 10 characters" in short.output

    signed_in = authenticate(settings, alice, PASSWORD, "10.0.0.1").user
    assert signed_in is not None
    session_token = start_session(settings, signed_in)
    assert find_session(settings, session_token) is not None
    disabled = cli.invoke(app, ["users", "disable", alice])
    assert disabled.exit_code == 0
    assert find_session(settings, session_token) is None  # signed out everywhere at once
    assert authenticate(settings, alice, PASSWORD, "10.0.0.1").user is None
    assert actions(settings, f"user:{alice}") == [
        ("cli", "user.add"),
        (alice, "login"),
        ("cli", "user.disable"),
        (alice, "login.failed"),
    ]


def test_one_address_guessing_many_names_is_throttled(settings: Settings) -> None:
    strict = settings.model_copy(update={"console_login_failures_per_ip": 3})
    real = name()
    add_user(strict.effective_database_url, real, "admin", PASSWORD)
    address = f"192.0.2.{uuid.uuid4().int % 250}"
    for _ in range(3):
        assert not authenticate(strict, name(), "guess", address).throttled
    outcome = authenticate(strict, real, PASSWORD, address)
    assert outcome.throttled and outcome.user is None
    # Another address is not held back by that one.
    assert authenticate(strict, real, PASSWORD, "198.51.100.7").user is not None


def test_sessions_end_at_their_expiry_and_when_idle(settings: Settings) -> None:
    user = add_user(settings.effective_database_url, name(), "support", PASSWORD)
    token = start_session(settings, user)
    viewer = find_session(settings, token)
    assert viewer is not None and viewer.user.name == user.name
    assert find_session(settings, token + "x") is None
    with session_scope(settings.effective_database_url) as session:
        row = session.exec(
            select(ConsoleSession).where(ConsoleSession.token_hash == viewer.token_hash)
        ).one()
        row.last_seen_at -= timedelta(minutes=settings.console_idle_minutes + 1)
        session.add(row)
    assert find_session(settings, token) is None  # idle too long

    fresh = start_session(settings, user)
    with session_scope(settings.effective_database_url) as session:
        for row in session.exec(select(ConsoleSession).where(ConsoleSession.user_id == user.id)):
            row.expires_at -= timedelta(hours=settings.console_session_hours)
            session.add(row)
    assert find_session(settings, fresh) is None  # past its absolute expiry


def test_free_text_is_redacted_for_marketers_only() -> None:
    reason = "550 <Bob.Smith@mail.example.org> unknown; SMS to +14155550123 refused"
    assert redact(reason) == "550 <B•••@mail.example.org> unknown; SMS to +14•••••••23 refused"
    assert shown_as("marketer")(reason) == redact(reason)
    assert shown_as("support")(reason) == shown_as("admin")(reason) == reason
    assert shown_as("marketer")(None) == ""


def test_every_text_of_the_console_has_its_french() -> None:
    texts = set()
    for template in TEMPLATES_DIR.glob("*.html"):
        texts |= set(re.findall(r'_\("([^"]+)"', template.read_text()))
    texts |= {label for _, label, _ in NAVIGATION}
    for module in (ROOT / "loyalflow" / "console").rglob("*.py"):
        source = module.read_text()
        texts |= set(re.findall(r'(?:title|error|NOT_FOUND|MISMATCH) ?= ?"([^"{]+)"', source))
        texts |= set(re.findall(r'^\s+"\w+": "([A-Z][^"]+\.)",$', source, re.MULTILINE))
    missing = sorted(t for t in texts if t not in CATALOGS["fr"])
    assert {"Not found", "Wrong user name or password.", "The two passwords differ."} <= texts
    assert len(texts) > 80
    assert missing == []


def test_the_vendored_htmx_is_the_locked_npm_package() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/htmx.org"]["version"]
    vendored = (STATIC_DIR / "vendor" / "htmx.min.js").read_bytes()
    assert vendored == (ROOT / "node_modules/htmx.org/dist/htmx.min.js").read_bytes()
    installed = json.loads((ROOT / "node_modules/htmx.org/package.json").read_text())
    assert installed["version"] == locked
    assert (STATIC_DIR / "vendor" / "htmx.LICENSE.txt").read_text().startswith("Zero-Clause BSD")
