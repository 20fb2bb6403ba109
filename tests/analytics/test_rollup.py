"""The daily rollup on a hand-made day: each figure worked out here from its definition (README,
"Results: the HTML report and daily rollup"), on SQLite and PostgreSQL; rolling up again
replaces the day, never adds to it."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import SQLModel, col, select

from loyalflow.analytics.rollup import days_to_roll, rollup_day
from loyalflow.analytics.timeseries import daily_series
from loyalflow.models.db import session_scope
from loyalflow.models.points_tables import PointsLedger
from loyalflow.models.rollup_tables import DailyRollup, RollupDay
from loyalflow.models.tables import Enrollment, Event, Member, Message

# Far from every other test's clock: the day's program-wide figures are this test's alone.
DAY = date(2001, 3, 10)
D = datetime(2001, 3, 10, tzinfo=UTC)
H = timedelta(hours=1)
LAST_MICROSECOND = D + timedelta(days=1) - timedelta(microseconds=1)


@dataclass
class Program:
    welcome: str  # journey ids, unique per test
    promo: str
    members: dict[str, str]


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _message(member: str, journey: str, step: str, channel: str, **fields: Any) -> Message:
    return Message(
        message_id=uuid.uuid4().hex,
        member_id=member,
        journey_id=journey,
        workflow_id=f"journey-{journey}-{member}",
        step_id=step,
        channel=channel,
        template=step,
        **fields,
    )


def _event(member: str, type_: str, at: datetime, **properties: Any) -> Event:
    return Event(
        event_id=_id("E"), member_id=member, type=type_, occurred_at=at, properties=properties
    )


def _ledger(member: str, kind: str, points: int, at: datetime = D + 12 * H) -> PointsLedger:
    return PointsLedger(member_id=member, kind=kind, points=points, at=at)


def build_day(url: str) -> Program:
    welcome, promo = _id("welcome"), _id("promo")
    a, b, c, e = (_id(name) for name in "ABCE")
    members: list[SQLModel] = [
        Member(id=a, joined_at=D - 5 * 24 * H),
        Member(id=b, joined_at=D + 10 * H),  # new that day
        Member(id=c, joined_at=None, created_at=LAST_MICROSECOND),  # new: created that day
        Member(id=e, joined_at=D + 24 * H),  # the next day: not new
    ]
    news = {"topic": "news"}
    rows: list[SQLModel] = [
        # welcome / hello / email, no variant
        _message(
            a,
            welcome,
            "hello",
            "email",
            status="sent",
            sent_at=D + 9 * H,
            first_opened_at=D + 10 * H,
            first_clicked_at=D + 10 * H + timedelta(minutes=5),
            **news,
        ),
        _message(b, welcome, "hello", "email", status="bounced", sent_at=D + 9.5 * H, **news),
        _message(b, welcome, "hello", "email", status="failed", sent_at=LAST_MICROSECOND, **news),
        # Sent the day before, opened on the day: an open of the day, not a send.
        _message(
            a,
            welcome,
            "hello",
            "email",
            status="sent",
            sent_at=D - H,
            first_opened_at=D + H,
            **news,
        ),
        # Never handed over (skipped), and one sent at the next day's first instant.
        _message(b, welcome, "hello", "email", status="skipped", **news),
        _message(a, welcome, "hello", "email", status="sent", sent_at=D + 24 * H, **news),
        # promo / offer / sms, variant B: an SMS link click is an open and a click.
        _message(
            c,
            promo,
            "offer",
            "sms",
            status="delivered",
            sent_at=D + 8 * H,
            first_clicked_at=D + 8.5 * H,
            variant="B",
            topic="offers",
        ),
        # Unsubscribes: A's revocation blames A's last email on news before it (the 09:00 one);
        # C's SMS revocation at 07:00 comes before any SMS to C: the program's sms row.
        _event(a, "consent.updated", D + 11 * H, channel="email", topic="news", status="revoked"),
        _event(c, "consent.updated", D + 7 * H, channel="sms", topic="offers", status="revoked"),
        _event(b, "consent.updated", D + 7 * H, channel="email", topic="news", status="granted"),
        # Journeys: A entered the day before and converted on the day; B entered on the day and
        # converted the next; C entered promo (variant B) on the day.
        Enrollment(
            workflow_id=_id("wf"),
            journey_id=welcome,
            journey_version="v1",
            member_id=a,
            entered_at=D - 2 * H,
            converted_at=D + 15 * H,
        ),
        Enrollment(
            workflow_id=_id("wf"),
            journey_id=welcome,
            journey_version="v1",
            member_id=b,
            entered_at=D + 9 * H,
            converted_at=D + 30 * H,
        ),
        Enrollment(
            workflow_id=_id("wf"),
            journey_id=promo,
            journey_version="v1",
            member_id=c,
            entered_at=D + 7.5 * H,
            variant="B",
        ),
        # Purchases: two orders and a refund on the day; one the day before; a derived event.
        _event(a, "purchase", D + 10 * H, amount=100.50),
        _event(b, "purchase", D + 20 * H, amount=20),
        _event(a, "purchase", D + 21 * H, amount=-30.25),
        _event(a, "purchase", D - H, amount=999),
        _event(a, "purchase.first", D + 10 * H, amount=100.50),
        # Points on the day, and 1000 the day before.
        _ledger(a, "earned", 100),
        _ledger(a, "bonus", 50),
        _ledger(b, "opening", 200),
        _ledger(b, "adjusted", 10),
        _ledger(b, "adjusted", -5),  # removed by staff: not issued, not redeemed
        _ledger(a, "reversed", -30),  # the refund's points
        _ledger(a, "redeemed", -80),
        _ledger(a, "reversed", 20),  # a cancelled redemption's return
        _ledger(c, "expired", -15),
        _ledger(a, "earned", 1000, at=D - H),
    ]
    with session_scope(url) as session:
        session.add_all(members)
        session.flush()
        session.add_all(rows)
    return Program(welcome, promo, {"A": a, "B": b, "C": c, "E": e})


def rows_of_day(url: str) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    with session_scope(url) as session:
        rows = session.exec(select(DailyRollup).where(col(DailyRollup.day) == DAY)).all()
    return {
        (r.journey_id, r.step_id, r.channel, r.variant): {
            name: value
            for name, value in r.model_dump().items()
            if name not in ("day", "journey_id", "step_id", "channel", "variant") and value
        }
        for r in rows
    }


@pytest.fixture(scope="module")
def program(database_url: str) -> Program:
    return build_day(database_url)


def test_a_hand_made_day_rolls_up_to_the_definitions(database_url: str, program: Program) -> None:
    first = rollup_day(database_url, DAY)
    again = rollup_day(database_url, DAY)  # idempotent: the same rows, not twice as many

    rows = rows_of_day(database_url)
    welcome, promo = program.welcome, program.promo
    assert rows == {
        # sends: 09:00, 09:30 (bounced), 23:59:59.999999 (failed); opens: the 09:00 one and the
        # day before's; clicks: the 09:00 one; unsubscribes: A's revocation.
        (welcome, "hello", "email", ""): dict(
            sends=3, delivered=1, bounces=2, opens=2, clicks=1, unsubscribes=1
        ),
        (promo, "offer", "sms", "B"): dict(sends=1, delivered=1, opens=1, clicks=1),
        (welcome, "", "", ""): dict(entered=1, conversions=1),
        (promo, "", "", "B"): dict(entered=1),
        ("", "", "sms", ""): dict(unsubscribes=1),
        # 100.50 + 20 - 30.25; issued 100 + 50 + 200 + 10 - 30; redeemed 80 - 20; expired 15.
        ("", "", "", ""): dict(
            purchases=2,
            revenue=Decimal("90.25"),
            new_members=2,
            points_issued=330,
            points_redeemed=60,
            points_expired=15,
        ),
    }
    assert first.rows == again.rows == 6
    with session_scope(database_url) as session:
        done = session.get(RollupDay, DAY)
    assert done is not None and done.rows == 6


def test_the_time_series_reads_the_rollup(database_url: str, program: Program) -> None:
    rollup_day(database_url, DAY)
    rollup_day(database_url, DAY - timedelta(days=1))

    series = daily_series(database_url, DAY - timedelta(days=1), DAY + timedelta(days=1))

    assert [p.day for p in series.days] == [DAY - timedelta(days=1), DAY, DAY + timedelta(days=1)]
    before, day, after = series.days
    assert (day.sends, day.opens, day.clicks, day.conversions) == (4, 3, 2, 1)
    assert day.revenue == Decimal("90.25") and before.revenue == Decimal("999")
    # The day before: A's 23:00 email; the day after was never rolled up: no figures, not zeros.
    assert (before.sends, before.rolled_up) == (1, True)
    assert after.rolled_up is False and after.sends == 0
    only_promo = daily_series(database_url, DAY, DAY, journey_id=program.promo)
    assert (only_promo.days[0].sends, only_promo.days[0].revenue) == (1, Decimal(0))


def test_the_schedule_catches_up_missed_days_and_settles_recent_ones(database_url: str) -> None:
    rollup_day(database_url, DAY)
    today = DAY + timedelta(days=4)  # the runs of the 3 days after DAY were missed

    def wanted(settle_days: int, max_catch_up_days: int) -> list[date]:
        return days_to_roll(
            database_url, today, settle_days=settle_days, max_catch_up_days=max_catch_up_days
        )

    # The 3 missed days, and DAY and the day before again (their late bounces).
    assert wanted(2, 30) == [DAY + timedelta(days=n) for n in range(-1, 4)]
    assert wanted(0, 30) == [DAY + timedelta(days=n) for n in range(1, 4)]
    assert wanted(2, 2) == [DAY + timedelta(days=2), DAY + timedelta(days=3)]
    # Run again on the same day after it succeeded: only the settling days.
    rollup_day(database_url, today - timedelta(days=1))
    assert wanted(1, 30) == [today - timedelta(days=1)]


def test_concurrent_rollups_of_one_day_take_turns(database_url: str, program: Program) -> None:
    """The nightly run and a hand backfill of the same day at once: both succeed, once."""
    expected = rollup_day(database_url, DAY).rows
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: rollup_day(database_url, DAY), range(4)))

    assert [r.rows for r in results] == [expected] * 4
    assert len(rows_of_day(database_url)) == expected
