"""`runs ambiguous`, `users list` and `engagement` read through cli/readers: the same answer as
the ORM code they mirror, and none of the ORM loaded by the commands (issue 12)."""

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loyalflow.analytics.engagement import engagement_report
from loyalflow.cli.readers.support import read_ambiguous_sends, read_engagement, read_users
from loyalflow.console.accounts import add_user, disable_user, list_users
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Member, Message
from loyalflow.models.tracking_tables import EngagementHit
from loyalflow.support.runs import ambiguous_sends

T0 = datetime(2026, 3, 1, 9, 30, 15, 250000, tzinfo=UTC)
ORM_MODULES = ("sqlmodel", "sqlalchemy")
PASSWORD = "correct horse battery staple 42"


def _messages(url: str, member_id: str) -> str:
    """A journey (named after the member, so other tests' rows stay apart) with every case
    `engagement` and `runs ambiguous` tell apart; returns the journey id."""
    journey = f"j-{member_id}"
    with session_scope(url) as session:
        session.add(Member(id=member_id, email=f"{member_id}@example.com", joined_at=T0))
        session.flush()

        def message(step: str, status: str, **fields: Any) -> str:
            message_id = str(uuid.uuid4())
            session.add(
                Message(
                    message_id=message_id,
                    member_id=member_id,
                    journey_id=journey,
                    workflow_id=f"wf-{message_id}",
                    step_id=step,
                    channel="email",
                    template="welcome",
                    status=status,
                    created_at=T0,
                    updated_at=T0,
                    **fields,
                )
            )
            return message_id

        sent = {"sent_at": T0}
        opened = message("a-email", "sent", first_opened_at=T0, **sent)
        clicked = message("a-email", "sent", first_clicked_at=T0, **sent)
        message("a-email", "bounced", bounced_at=T0, **sent)
        message("a-email", "failed", reason="mailbox full")  # never sent: no bounce
        message("a-email", "sent", is_test=True, first_opened_at=T0, **sent)  # a console test
        message("b-sms", "failed", interrupted_at=T0, handed_at=T0, reason="connection reset")
        message("b-sms", "sent", interrupted_at=T0 + timedelta(seconds=5), **sent)
        for message_id, kind, human in (
            (opened, "open", True),
            (opened, "open", True),  # the same person opening twice: one open
            (opened, "open", False),  # Apple Mail Privacy Protection
            (clicked, "click", False),  # a link scanner
            (clicked, "click", True),
        ):
            session.add(
                EngagementHit(
                    message_id=message_id,
                    member_id=member_id,
                    kind=kind,
                    at=T0,
                    method="GET",
                    human=human,
                )
            )
    return journey


def _users(url: str, member_id: str) -> tuple[str, str]:
    active, disabled = f"b-{member_id}", f"a-{member_id}"
    add_user(url, active, "support", PASSWORD)
    add_user(url, disabled, "marketer", PASSWORD)
    disable_user(url, disabled)
    return active, disabled


def test_ambiguous_sends_read_like_the_orm(database_url: str, member_id: str) -> None:
    _messages(database_url, member_id)

    read = read_ambiguous_sends(database_url, limit=50)

    assert read == ambiguous_sends(database_url, limit=50)
    mine = [s for s in read if s.member_id == member_id]
    assert [(s.status, s.handed_at) for s in mine] == [
        ("sent", T0 + timedelta(seconds=5)),
        ("failed", T0),
    ]
    assert read_ambiguous_sends(database_url, limit=1) == ambiguous_sends(database_url, limit=1)


def test_engagement_reads_like_the_orm(database_url: str, member_id: str) -> None:
    journey = _messages(database_url, member_id)

    read = read_engagement(database_url, journey)

    assert read == engagement_report(database_url, journey)
    assert [(r.step_id, r.sent, r.human_opens, r.human_clicks) for r in read] == [
        ("a-email", 3, 2, 1),
        ("b-sms", 1, 0, 0),
    ]
    assert [(r.machine_opens, r.machine_clicks, r.bounced) for r in read] == [(1, 1, 1), (0, 0, 0)]
    assert read_engagement(database_url) == engagement_report(database_url)


def test_users_read_like_the_orm(database_url: str, member_id: str) -> None:
    active, disabled = _users(database_url, member_id)

    read = read_users(database_url)

    assert read == list_users(database_url)
    mine = {u.name: (u.role, u.disabled) for u in read if u.name in (active, disabled)}
    assert mine == {active: ("support", False), disabled: ("marketer", True)}


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["runs", "ambiguous"], "{member_id}"),
        (["runs", "ambiguous", "--json"], '"reason": "connection reset"'),
        (["users", "list"], "b-{member_id}"),
        (["users", "list", "--json"], '"name": "a-{member_id}", "role": "marketer"'),
        (["engagement"], "j-{member_id}"),
        (["member", "get", "{member_id}"], "{member_id}@example.com"),
    ],
)
def test_read_commands_load_no_orm(
    database_url: str, member_id: str, tmp_path: Path, command: list[str], expected: str
) -> None:
    _messages(database_url, member_id)
    _users(database_url, member_id)
    args = [word.format(member_id=member_id) for word in command]
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from loyalflow.cli.app import app\n"
        f"result = CliRunner().invoke(app, {args!r})\n"
        "assert result.exit_code == 0, result.output\n"
        f"print(sorted(m for m in {ORM_MODULES!r} if m in sys.modules))\n"
        "print(result.output)\n"
    )
    env = {
        **os.environ,
        "LOYALFLOW_HOME": str(tmp_path),
        "LOYALFLOW_DATABASE_URL": database_url,
        "COLUMNS": "300",  # whole ids and reasons on one line
    }

    ran = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
    )

    assert ran.returncode == 0, ran.stderr
    loaded, output = ran.stdout.split("\n", 1)
    assert loaded == "[]"
    assert expected.format(member_id=member_id) in output
    if "--json" in args:
        json.loads(output)
