"""`loyalflow engagement`: unique human opens and clicks per step, machines counted apart."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from loyalflow.analytics.engagement import engagement_report
from loyalflow.analytics.engagement_row import EngagementRow
from loyalflow.cli.app import app
from loyalflow.config import Settings, get_settings
from loyalflow.members.engagement import record_hit
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Message
from loyalflow.models.tracking_tables import MessageLink
from tests.journey_helpers import create_member

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
SCANNER = "Proofpoint URL Defense"


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("LOYALFLOW_HOME", str(settings.home))
    monkeypatch.setenv("LOYALFLOW_DATABASE_URL", settings.effective_database_url)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def sent_message(settings: Settings, member_id: str, journey: str) -> str:
    create_member(settings, member_id, email=f"{member_id}@example.com")
    message_id = str(uuid.uuid4())
    with session_scope(settings.effective_database_url) as session:
        session.add(
            Message(
                message_id=message_id,
                member_id=member_id,
                journey_id=journey,
                workflow_id=f"wf-{message_id}",
                step_id="email",
                channel="email",
                template="welcome",
                status="sent",
                sent_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )
        session.add(MessageLink(message_id=message_id, position=0, url="https://example.com/"))
    return message_id


def hit(settings: Settings, message_id: str, kind: str, agent: str) -> None:
    recorded = record_hit(
        settings.effective_database_url,
        kind,
        message_id,
        0 if kind == "click" else None,
        method="GET",
        user_agent=agent,
        ip_prefix="198.51.100.0/24",
        at=datetime.now(UTC),
        bot_seconds=5,
    )
    assert recorded is not None


def test_report_counts_people_once_per_message_and_machines_apart(cli_env: Settings) -> None:
    journey = f"j{uuid.uuid4().hex[:8]}"
    reader = sent_message(cli_env, f"R-{uuid.uuid4().hex[:8]}", journey)
    scanned = sent_message(cli_env, f"S-{uuid.uuid4().hex[:8]}", journey)
    sent_message(cli_env, f"Q-{uuid.uuid4().hex[:8]}", journey)  # never opened
    for _ in range(3):
        hit(cli_env, reader, "open", BROWSER)
    hit(cli_env, reader, "click", BROWSER)
    hit(cli_env, reader, "click", BROWSER)
    hit(cli_env, scanned, "click", SCANNER)
    hit(cli_env, scanned, "open", "Mozilla/5.0")  # Apple's proxy
    rows = engagement_report(cli_env.effective_database_url, journey)
    assert rows == [EngagementRow(journey, "email", 3, 1, 1, 1, 1, 0)]
    shown = CliRunner().invoke(app, ["engagement", "--journey", journey])
    assert shown.exit_code == 0, shown.output
    assert journey in shown.output
