"""`loyalflow simulate` and `loyalflow demo`: the built-in journeys on their main paths, in
skipped time on Temporal's test server, with the real workflow, activities and outbox."""

import itertools
import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from loyalflow.catalog.registry import get_catalog
from loyalflow.cli.app import app
from loyalflow.config import get_settings
from loyalflow.models.experiments import assign_variant
from loyalflow.models.journey import SplitStep
from loyalflow.simulation.environment import journey_file, simulation
from loyalflow.simulation.simulate import (
    MemberFile,
    ScriptEvent,
    load_member,
    load_script,
    run_script,
)
from loyalflow.simulation.timeline import TimelineRow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ADA: dict[str, Any] = {
    "email": "ada@example.com",
    "phone": "+33612345678",
    "first_name": "Ada",
    "locale": "en",
    "timezone": "Europe/Paris",
}
SMS_OK = [{"channel": "sms", "topic": "onboarding"}, {"channel": "sms", "topic": "loyalty"}]


def script(*events: tuple[str, str, dict[str, Any]]) -> list[ScriptEvent]:
    return [ScriptEvent.model_validate({"at": a, "type": t, "properties": p}) for a, t, p in events]


async def simulate(
    journey: str, member: dict[str, Any], events: list[ScriptEvent], days: int = 90
) -> tuple[list[TimelineRow], timedelta]:
    async with simulation([journey_file(journey)], start_hour_utc=9) as sim:
        rows = await run_script(sim, MemberFile.model_validate(member), events, days)
        return rows, (rows[-1].at - sim.started_at) if rows else timedelta(0)


def about(delta: timedelta, expected: timedelta) -> bool:
    # Work takes a few real milliseconds on the server's clock between skips.
    return abs(delta - expected) < timedelta(minutes=1)


def steps(rows: list[TimelineRow], journey: str) -> list[tuple[str, str]]:
    return [(r.step, r.outcome) for r in rows if r.journey == journey]


def sent(rows: list[TimelineRow]) -> list[TimelineRow]:
    return [r for r in rows if r.outcome == "sent"]


def member_in(variant: str, journey: str = "reactivation") -> str:
    split = next(
        s for s in get_catalog(get_settings()).journeys[journey].steps if isinstance(s, SplitStep)
    )
    experiment = split.experiment or f"{journey}.{split.id}"
    return next(
        m
        for n in range(1000)
        if assign_variant(experiment, (m := f"SIM-{n}"), split.groups) == variant
    )


async def test_welcome_without_purchase_sends_the_reminder_by_sms_three_days_later() -> None:
    rows, _ = await simulate("welcome", {**ADA, "consents": SMS_OK}, [])

    welcome, reminder = sent(rows)
    assert (welcome.step, welcome.channel, welcome.template) == (
        "welcome_email",
        "email",
        "welcome",
    )
    assert welcome.subject and "Ada" in welcome.subject
    assert (reminder.step, reminder.channel) == ("benefits_reminder", "sms")
    assert about(reminder.at - welcome.at, timedelta(days=3))
    assert steps(rows, "welcome")[-1] == ("exit", "completed")


async def test_welcome_with_a_purchase_ends_before_the_reminder() -> None:
    rows, _ = await simulate("welcome", ADA, script(("1d", "purchase", {"amount": 20})))

    assert [r.step for r in sent(rows)] == ["welcome_email"]
    assert ("exit_when", "event") in steps(rows, "welcome")
    assert any(r.outcome == "converted" for r in rows)
    assert not any(r.step == "benefits_reminder" for r in rows)


async def test_first_purchase_without_a_second_sends_the_cross_sell_after_14_days() -> None:
    rows, _ = await simulate("first_purchase", ADA, script(("1d", "purchase", {"amount": 42})))

    thanks, cross_sell = sent(rows)
    assert thanks.template == "first_purchase_thanks" and thanks.subject
    assert "42" in thanks.subject
    assert cross_sell.template == "cross_sell"
    assert about(cross_sell.at - thanks.at, timedelta(days=14))
    assert ("wait_second_purchase", "timed out") in steps(rows, "first_purchase")


async def test_first_purchase_with_a_second_purchase_says_nothing_more() -> None:
    rows, elapsed = await simulate(
        "first_purchase",
        ADA,
        script(("1d", "purchase", {"amount": 42}), ("5d", "purchase", {"amount": 10})),
    )

    assert [r.template for r in sent(rows)] == ["first_purchase_thanks"]
    assert ("wait_second_purchase", "event") in steps(rows, "first_purchase")
    assert elapsed < timedelta(days=10)  # it stopped once nothing was left to happen


INACTIVE = script(("-100d", "member.joined", {}), ("-95d", "purchase", {"amount": 30}))


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("email", [("nudge_email", "email"), ("second_nudge", "email")]),
        ("sms", [("nudge_sms", "sms"), ("second_nudge", "email")]),
        ("holdout", []),
    ],
)
async def test_reactivation_of_an_inactive_member_by_variant(
    variant: str, expected: list[tuple[str, str]]
) -> None:
    member = {**ADA, "id": member_in(variant), "consents": SMS_OK}
    rows, _ = await simulate("reactivation", member, INACTIVE, days=20)

    trail = steps(rows, "reactivation")
    assert ("channel_test", "variant") in trail
    assert [(r.step, r.channel) for r in sent(rows)] == expected
    if variant == "holdout":
        assert trail[-1] == ("exit", "holdout")
    else:
        assert ("wait_for_purchase", "timed out") in trail
        assert ("bonus_points", "updated") in trail


async def test_reactivation_welcomes_back_a_member_who_buys() -> None:
    member = {**ADA, "id": member_in("email")}
    events = [*INACTIVE, *script(("3d", "purchase", {"amount": 25}))]
    rows, _ = await simulate("reactivation", member, events, days=10)

    assert [r.step for r in sent(rows)] == ["nudge_email", "welcome_back"]
    assert any(r.outcome == "converted" for r in rows)


async def test_tier_upgrade_awards_the_bonus_and_congratulates() -> None:
    rows, _ = await simulate("tier_upgrade", ADA, script(("2d", "purchase", {"amount": 600})))

    assert any(r.step == "tier.upgraded" and "to=Silver" in r.detail for r in rows)
    assert ("upgrade_bonus", "updated") in steps(rows, "tier_upgrade")
    (congratulations,) = sent(rows)
    assert congratulations.template == "tier_upgrade" and congratulations.subject
    assert "Silver" in congratulations.subject


async def test_points_reminder_monthly_over_three_months() -> None:
    rows, _ = await simulate(
        "points_reminder", ADA, script(("0", "purchase", {"amount": 80})), days=95
    )

    reminders = sent(rows)
    assert len(reminders) == 3
    assert all(r.template == "points_reminder" and r.subject for r in reminders)
    # At 10:00 in Paris, about 30 days apart.
    assert {r.at.astimezone(ZoneInfo("Europe/Paris")).hour for r in reminders} == {10}
    assert all(
        timedelta(days=29) < b.at - a.at < timedelta(days=32)
        for a, b in itertools.pairwise(reminders)
    )


def test_the_example_files_load() -> None:
    events = load_script(EXAMPLES / "purchase_script.yaml")
    assert [e.type for e in events][:2] == ["visit", "purchase"]
    assert load_member(EXAMPLES / "member.yaml").consents


def test_simulate_command_prints_the_timeline() -> None:
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "first_purchase",
            "--member",
            str(EXAMPLES / "member.yaml"),
            "--script",
            str(EXAMPLES / "purchase_script.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "thank_you" in result.output and "cross_sell" in result.output


def test_simulate_command_prints_the_timeline_as_json() -> None:
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "first_purchase",
            "--member",
            str(EXAMPLES / "member.yaml"),
            "--script",
            str(EXAMPLES / "purchase_script.yaml"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    sent = [row["template"] for row in rows if row["outcome"] == "sent"]
    assert sent == ["first_purchase_thanks", "cross_sell"]


def test_demo_writes_a_report_with_per_variant_results(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = CliRunner().invoke(
        app, ["demo", "--members", "60", "--days", "40", "--report", str(report)]
    )

    assert result.exit_code == 0, result.output
    html = report.read_text()
    for text in ("welcome.subject_line", "reactivation.channel", "holdout", "entered"):
        assert text in html
    assert "<script" not in html and "http" not in html.split("<body>")[0]
    assert "at least 100 entries per arm" in html  # the analytics' experiment reports
    assert "experiments" in result.output


def test_demo_json_carries_the_journey_and_experiment_reports(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["demo", "--members", "20", "--days", "5", "--report", str(tmp_path / "r.html"), "--json"],
    )

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["summary"]
    welcome = next(j for j in summary["journeys"] if j["journey_id"] == "welcome")
    assert welcome["total"]["entered"] > 0
    assert welcome["total"]["steps"][0]["step_id"] == "subject_line_test"
    experiments = {e["experiment"]: e for e in summary["experiments"]}
    assert {"welcome.subject_line", "reactivation.channel"} <= set(experiments)
    assert experiments["welcome.subject_line"]["verdict"].startswith("Not enough data yet")


def test_the_demo_program_refers_friends_and_redeems_rewards() -> None:
    """Issue 14: referrals name members who joined before; redemptions fall in the run."""
    from datetime import timedelta

    from loyalflow.simulation.demo_program import REDEMPTION, build_program

    program = build_program(members=200, days=60, seed=7)
    joined = {m.id: m.joined for m in program.members}
    referrals = [e for e in program.events if e.type == "member.referred"]
    redemptions = [e for e in program.events if e.type == REDEMPTION]
    assert referrals and redemptions
    for referral in referrals:
        referrer = str(referral.properties["referrer_id"])
        assert joined[referrer] < timedelta(0) <= joined[referral.member_id]
    assert all(timedelta(0) <= e.at < timedelta(days=60) for e in redemptions)
    again = build_program(members=200, days=60, seed=7)
    assert [e for e in again.events if e.type == "purchase"] == [
        e for e in program.events if e.type == "purchase"
    ]


async def test_the_demo_shows_expiry_redemptions_referrals_and_a_promotion(tmp_path: Path) -> None:
    """Issue 14: the demo's database holds each mechanic, and their journeys ran."""
    from sqlmodel import col, func, select

    from loyalflow.models.db import session_scope
    from loyalflow.models.points_tables import PointsLedger
    from loyalflow.models.tables import Enrollment, Event
    from loyalflow.simulation.demo import run_demo

    files = sorted(get_settings().journeys_dir.glob("*.yaml"))
    database = f"sqlite:///{tmp_path.resolve() / 'loyalflow.db'}"  # noqa: ASYNC240
    await run_demo(files, members=120, days=40, seed=3, home=tmp_path, workers=1)

    with session_scope(database) as session:
        events = dict(
            session.exec(
                select(Event.type, func.count())
                .where(
                    col(Event.type).in_(["points.expired", "points.redeemed", "referral.converted"])
                )
                .group_by(col(Event.type))
            ).all()
        )
        promoted = session.exec(
            select(func.count()).where(PointsLedger.promotion == "demo-double-points")
        ).one()
        journeys = set(session.exec(select(Enrollment.journey_id).distinct()))
    assert set(events) == {"points.expired", "points.redeemed", "referral.converted"}, events
    assert promoted > 0
    assert {"points_expiring", "redemption_confirmation", "referral_thanks"} <= journeys
