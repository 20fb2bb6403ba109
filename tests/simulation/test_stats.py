"""The demo report's message counts: an SMS that fell back to email is a fallback, not a skip."""

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from loyalflow.config import Settings
from loyalflow.models.db import session_scope, upgrade_database
from loyalflow.models.tables import Message
from loyalflow.simulation.stats import summarise
from tests.journey_helpers import create_member


def message(member_id: str, workflow: str, channel: str, status: str, reason: str | None) -> Any:
    return Message(
        message_id=f"{workflow}-{channel}",
        member_id=member_id,
        journey_id="welcome",
        workflow_id=workflow,
        step_id="reminder",
        channel=channel,
        template="welcome_reminder",
        status=status,
        reason=reason,
        fallback_ok=status == "skipped",
    )


def test_an_sms_that_fell_back_to_email_counts_as_a_fallback(
    settings: Settings, member_id: str, tmp_path: Path
) -> None:
    # A demo's database of its own (a demo always runs on a throwaway SQLite file): the report
    # counts every message in it, so rows of other tests must not be there.
    database = f"sqlite:///{tmp_path / 'demo.db'}"
    settings = settings.model_copy(update={"database_url": database})
    upgrade_database(database)
    create_member(settings, member_id, email="a@example.com")
    with session_scope(settings.effective_database_url) as session:
        session.add_all(
            [
                message(member_id, "w1", "sms", "skipped", "no phone number"),
                message(member_id, "w1", "email", "sent", None),
                message(member_id, "w2", "sms", "skipped", "no consent for sms/offers"),
            ]
        )
    sim = SimpleNamespace(
        url=settings.effective_database_url, settings=settings, started_at=datetime.now(UTC)
    )

    summary = summarise(sim, days=1)  # type: ignore[arg-type]

    counts = {m.channel: m.statuses for m in summary.messages}
    assert counts == {"sms": {"fallback": 1, "skipped": 1}, "email": {"sent": 1}}
    assert summary.skips == [("no consent for sms/offers", 1)]
