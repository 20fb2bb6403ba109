"""The read-only commands' plain-SQL readers (cli/readers): the same answer as the ORM code they
mirror, and none of the ORM loaded (issue 12: a read answers in under half a second)."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from loyalflow.cli.readers.member import read_member
from loyalflow.members.profile import get_member
from loyalflow.models.db import session_scope
from loyalflow.models.points_tables import PointsLedger, PointsLot, Redemption
from loyalflow.models.tables import Consent, Member
from loyalflow.rules.loyalty import TierLadder, TierLevel

LADDER = TierLadder(
    levels=(TierLevel(name="Bronze", threshold=0), TierLevel(name="Silver", threshold=500))
)
T0 = datetime(2026, 3, 1, 9, 30, 15, 250000, tzinfo=UTC)
ORM_MODULES = ("sqlmodel", "sqlalchemy")


def _member_with_a_history(url: str, member_id: str) -> None:
    """Every source `member get` reads: consents, ledger kinds, lots expiring on the same and on
    later days, a cancelled redemption, attributes and an exact amount spent."""
    expiry = T0 + timedelta(days=365)
    with session_scope(url) as session:
        session.add(
            Member(
                id=member_id,
                email=f"{member_id}@example.com",
                first_name="Zoé",
                locale="fr",
                timezone="Europe/Paris",
                tier="Bronze",
                points=260,
                joined_at=T0,
                first_purchase_at=T0,
                last_purchase_at=T0 + timedelta(days=3),
                last_activity_at=T0.replace(microsecond=0),
                purchase_count=2,
                total_spent=Decimal("120.99"),
                attributes={"store": "Lyon", "vip": True},
            )
        )
        session.flush()
        for channel, topic in (("sms", "offers"), ("email", "offers"), ("email", "news")):
            session.add(
                Consent(member_id=member_id, channel=channel, topic=topic, status="granted", at=T0)
            )
        for kind, points in (("opening", 100), ("earned", 200), ("bonus", 50), ("redeemed", -80)):
            session.add(PointsLedger(member_id=member_id, at=T0, kind=kind, points=points))
        session.add(PointsLedger(member_id=member_id, at=T0, kind="expired", points=-10))
        for remaining, expires in ((40, expiry), (60, expiry), (160, expiry + timedelta(days=9))):
            session.add(
                PointsLot(
                    member_id=member_id,
                    earned_at=T0,
                    expires_at=expires,
                    original=remaining,
                    remaining=remaining,
                )
            )
        session.add(PointsLot(member_id=member_id, earned_at=T0, original=5, remaining=0))
        session.add(
            Redemption(
                member_id=member_id, id="r-1", reward_id="mug", cost=30, status="cancelled", at=T0
            )
        )


def test_the_reader_answers_exactly_like_the_orm(database_url: str, member_id: str) -> None:
    _member_with_a_history(database_url, member_id)

    read = read_member(database_url, member_id, LADDER)
    expected = get_member(database_url, member_id, LADDER)

    assert read is not None and expected is not None
    assert read.model_dump_json() == expected.model_dump_json()
    assert read.loyalty is not None
    assert (read.loyalty.expiring_next, read.loyalty.lifetime_redeemed) == (100, 50)
    assert [(c.channel, c.topic) for c in read.consents] == [
        (c.channel, c.topic) for c in expected.consents
    ]


def test_the_reader_says_none_for_an_unknown_member(database_url: str, member_id: str) -> None:
    assert read_member(database_url, member_id, LADDER) is None


def test_member_get_loads_no_orm(database_url: str, member_id: str, tmp_path: Path) -> None:
    _member_with_a_history(database_url, member_id)
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from loyalflow.cli.app import app\n"
        f"result = CliRunner().invoke(app, ['member', 'get', {member_id!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'Zoé' in result.output, result.output\n"
        f"print(sorted(m for m in {ORM_MODULES!r} if m in sys.modules))\n"
    )
    env = {**os.environ, "LOYALFLOW_HOME": str(tmp_path), "LOYALFLOW_DATABASE_URL": database_url}

    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
    )

    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"
