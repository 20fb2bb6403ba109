"""The journey funnel of a hand-made history: each figure worked out from the definitions
(README, "Results: journeys and experiments"), on SQLite and PostgreSQL."""

from datetime import timedelta
from decimal import Decimal

from loyalflow.analytics.journey_models import Count, ReportPeriod
from loyalflow.analytics.journey_report import journey_report
from loyalflow.config import Settings
from tests.analytics.funnel_program import DAY, HOUR, T0, build

PERIOD = ReportPeriod(start=T0 - DAY, end=T0 + DAY)


def test_the_funnel_counts_entries_exits_conversions_and_revenue(settings: Settings) -> None:
    program = build(settings)

    report = journey_report(settings.effective_database_url, program.journey, PERIOD)

    total = report.total
    # m4 entered before the period; m1, m2, m3, m5, m6 are the cohort.
    assert total.entered == 5
    assert total.in_progress == 2  # m2 (waiting in pause), m6 (its email deferred)
    assert total.completed == 1  # m1
    assert total.exits == [
        Count(label="completed", count=1),
        Count(label="exit_when: purchase", count=1),
        Count(label="holdout", count=1),
    ]
    # m1 (day 2), m3 (holdout, day 1), m6 (exactly at the 7-day end); not m2 (7 days and a
    # second), not m5 (bought before entering).
    assert total.converted == 3
    assert total.conversion_rate == 3 / 5
    # 30 + 12.50 + 20 (m6's second purchase is a microsecond past the window).
    assert total.revenue == Decimal("62.50")
    assert report.goal is not None and report.goal.within_days == 7


def test_steps_show_who_reached_them_and_who_waits_there(settings: Settings) -> None:
    program = build(settings)

    report = journey_report(settings.effective_database_url, program.journey, PERIOD)

    steps = {s.step_id: (s.kind, s.reached, s.waiting_now) for s in report.total.steps}
    assert steps == {
        "split": ("split", 5, 0),
        "email_1": ("send", 4, 1),  # m1, m2, m5, m6; m6 waits there
        "pause": ("wait", 2, 1),  # m1, m2; m2 waits there
        "reminder": ("send", 1, 0),  # m1
    }
    assert [s.step_id for s in report.total.steps] == ["split", "email_1", "pause", "reminder"]


def test_sends_count_delivery_people_unsubscribes_and_what_was_not_sent(
    settings: Settings,
) -> None:
    program = build(settings)

    report = journey_report(settings.effective_database_url, program.journey, PERIOD)

    sends = {(s.step_id, s.channel): s for s in report.total.sends}
    first = sends[("email_1", "email")]
    # Sent: m1, m2, m5 (m6 deferred; m4 outside the period). m2 bounced.
    assert (first.sent, first.bounced, first.delivered) == (3, 1, 2)
    # Opened: m1 (a click counts as an open) and m5; clicked: m1. Rates over delivered (2).
    assert (first.opened, first.clicked) == (2, 1)
    assert (first.open_rate, first.click_rate) == (1.0, 0.5)
    # m5 unsubscribed after it; m1 did too, but after a later message (the reminder).
    assert first.unsubscribed == 1
    assert first.not_sent == [Count(label="deferred (will retry)", count=1)]
    sms = sends[("reminder", "sms")]
    assert (sms.sent, sms.fell_back, sms.not_sent) == (0, 1, [])
    fallback = sends[("reminder", "email")]
    assert (fallback.sent, fallback.delivered, fallback.unsubscribed) == (1, 1, 1)
    assert fallback.open_rate == 0.0


def test_versions_are_reported_apart_and_add_up(settings: Settings) -> None:
    program = build(settings)

    report = journey_report(settings.effective_database_url, program.journey, PERIOD)

    by_version = {v.version: v for v in report.versions}
    assert set(by_version) == {program.journey.version, "oldversion01"}
    current, old = by_version[program.journey.version], by_version["oldversion01"]
    assert (current.entered, current.converted, current.revenue) == (4, 3, Decimal("62.50"))
    assert (old.entered, old.converted, old.revenue) == (1, 0, Decimal("0.00"))
    assert report.versions[0].version == "oldversion01"  # entered last (T0+3h)
    old_first = {(s.step_id, s.channel): s for s in old.sends}[("email_1", "email")]
    assert (old_first.sent, old_first.opened, old_first.unsubscribed) == (1, 1, 1)


def test_an_empty_period_reports_zeros(settings: Settings) -> None:
    program = build(settings)
    later = ReportPeriod(start=T0 + 30 * DAY, end=T0 + 30 * DAY + timedelta(hours=1))

    report = journey_report(settings.effective_database_url, program.journey, later)

    assert (report.total.entered, report.total.converted) == (0, 0)
    assert report.total.conversion_rate is None
    assert report.versions == []
    assert all(s.reached == 0 for s in report.total.steps)


def test_a_goal_with_a_condition_counts_what_the_runs_recorded(settings: Settings) -> None:
    """Only the runs evaluate a condition on the goal event: their `converted_at` counts."""
    from sqlmodel import col, update

    from loyalflow.models.db import session_scope
    from loyalflow.models.tables import Enrollment

    program = build(settings)
    conditional = program.journey.model_copy(
        update={"goal": program.journey.goal.model_copy(update={"condition": "event.amount >= 25"})}
        if program.journey.goal
        else {}
    )
    with session_scope(settings.effective_database_url) as session:
        session.execute(
            update(Enrollment)
            .where(col(Enrollment.member_id) == program.member("m1"))
            .values(converted_at=T0 + 2 * DAY)
        )

    report = journey_report(settings.effective_database_url, conditional, PERIOD)

    assert report.goal is not None and report.goal.basis == "runs"
    assert report.total.converted == 1  # m1's run recorded it; m3 and m6 bought, unrecorded


def test_steps_count_the_cohort_runs_that_reached_them_once(settings: Settings) -> None:
    """m4 entered before the period: its run reaching `pause` inside the period is not the
    cohort's. m1's run entered `pause` twice (resumed there): one run."""
    from loyalflow.models.db import session_scope
    from loyalflow.models.tables import JourneyStep

    program = build(settings)
    with session_scope(settings.effective_database_url) as session:
        session.add(
            JourneyStep(
                workflow_id=f"journey-{program.journey.id}-{program.member('m4')}",
                member_id=program.member("m4"),
                journey_id=program.journey.id,
                step_id="pause",
                at=T0 + HOUR,
            )
        )
        session.add(
            JourneyStep(
                workflow_id=f"journey-{program.journey.id}-{program.member('m1')}",
                member_id=program.member("m1"),
                journey_id=program.journey.id,
                step_id="pause",
                at=T0 + 2 * DAY,
            )
        )

    report = journey_report(settings.effective_database_url, program.journey, PERIOD)

    assert {s.step_id: s.reached for s in report.total.steps}["pause"] == 2  # m1, m2
