"""The experiment report of a hand-made history: arms, conversions and clicks counted from the
definitions, the holdout as the control, on SQLite and PostgreSQL."""

from loyalflow.analytics.experiment_report import MIN_PER_ARM, experiment_report
from loyalflow.analytics.journey_lookup import split_steps
from loyalflow.config import Settings
from tests.analytics.funnel_program import build
from tests.analytics.test_journey_report import PERIOD


def test_arms_count_entries_conversions_and_clicks(settings: Settings) -> None:
    program = build(settings)
    split = split_steps(program.journey)[0]

    report = experiment_report(settings.effective_database_url, program.journey, split, PERIOD)

    arms = {v.variant: v for v in report.variants}
    assert list(arms) == ["a", "b", "holdout"]
    assert report.control == "holdout" and report.click_control == "a"
    # a: m1 (converted, clicked), m5 (bought before entering), m6 (converted at the window's end);
    # m4 entered before the period. b: m2 (bought too late). holdout: m3 (converted).
    conversions = {n: (v.entered, v.conversion.successes) for n, v in arms.items() if v.conversion}
    assert conversions == {"a": (3, 2), "b": (1, 0), "holdout": (1, 1)}
    clicks = {n: v.clicks.successes for n, v in arms.items() if v.clicks}
    assert clicks == {"a": 1, "b": 0}
    assert arms["holdout"].clicks is None
    assert arms["a"].conversion is not None and arms["a"].conversion.lift is not None
    assert round(arms["a"].conversion.lift, 6) == round(2 / 3 - 1, 6)
    assert report.min_per_arm == MIN_PER_ARM
    assert not report.enough_data
    assert report.verdict.startswith("Not enough data yet")
    assert report.experiment == f"{program.journey.id}.split"
