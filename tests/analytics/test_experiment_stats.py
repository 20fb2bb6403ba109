"""Experiment statistics checked against independent computations: SciPy's own Wilson interval,
chi-square test and relative-risk interval, Newcomb's published worked example, and Holm's
procedure worked out by hand from its definition."""

import pytest
from scipy.stats import binomtest, chi2_contingency  # type: ignore[import-untyped]
from scipy.stats.contingency import relative_risk  # type: ignore[import-untyped]

from loyalflow.analytics.experiment_report import verdict
from loyalflow.analytics.experiment_stats import (
    Arm,
    compare,
    holm,
    lift_interval,
    relative_lift_interval,
    wilson,
    z_test,
)
from tests.analytics.experiment_arms import variant_results


@pytest.mark.parametrize(("successes", "trials"), [(0, 10), (7, 50), (81, 263), (400, 400)])
def test_rate_intervals_are_scipys_wilson_score_intervals(successes: int, trials: int) -> None:
    expected = binomtest(successes, trials).proportion_ci(0.95, method="wilson")

    interval = wilson(successes, trials)

    assert interval is not None
    assert interval.low == pytest.approx(expected.low, abs=1e-12)
    assert interval.high == pytest.approx(expected.high, abs=1e-12)


@pytest.mark.parametrize(("a", "b"), [((120, 1000), (95, 1000)), ((30, 240), (12, 250))])
def test_p_values_agree_with_scipys_chi_square_test_on_the_two_by_two_table(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    # The pooled two-proportion z-test is the uncorrected chi-square test of the 2x2 table.
    table = [[a[0], a[1] - a[0]], [b[0], b[1] - b[0]]]
    expected = chi2_contingency(table, correction=False).pvalue

    assert z_test(Arm("v", *a), Arm("c", *b)) == pytest.approx(expected, rel=1e-9)


def test_the_lift_interval_reproduces_newcombs_worked_example() -> None:
    # Newcomb (1998), Statistics in Medicine 17:873-890, table II, example (a): 56/70 - 48/80,
    # method 10 (hybrid score): 0.0524 to 0.3339.
    interval = lift_interval(Arm("v", 56, 70), Arm("c", 48, 80))

    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.0524, 0.3339)


def test_the_relative_lift_interval_is_scipys_relative_risk_interval_minus_one() -> None:
    expected = relative_risk(56, 70, 48, 80).confidence_interval(0.95)

    interval = relative_lift_interval(Arm("v", 56, 70), Arm("c", 48, 80))

    assert interval is not None
    assert interval.low == pytest.approx(expected.low - 1, rel=1e-9)
    assert interval.high == pytest.approx(expected.high - 1, rel=1e-9)


def test_holm_multiplies_the_sorted_p_values_and_keeps_them_monotone() -> None:
    # Sorted: 0.01 (x3 = 0.03), 0.02 (x2 = 0.04), 0.04 (x1 = 0.04, never below the one before).
    assert holm([0.04, 0.01, None, 0.02]) == pytest.approx([0.04, 0.03, None, 0.04])
    # Capped at 1.
    assert holm([0.6, 0.5]) == pytest.approx([1.0, 1.0])


def test_variants_are_compared_with_the_control_and_holm_corrected() -> None:
    arms = [Arm("a", 150, 1000), Arm("b", 112, 1000), Arm("holdout", 100, 1000)]

    results = compare(arms, "holdout")

    control = results["holdout"]
    assert (control.lift, control.p_value, control.significant) == (None, None, False)
    a, b = results["a"], results["b"]
    assert a.lift == pytest.approx(0.05)
    assert a.relative_lift == pytest.approx(0.5)
    raw = [
        chi2_contingency([[x, 1000 - x], [100, 900]], correction=False).pvalue for x in (150, 112)
    ]
    assert (a.p_value, b.p_value) == pytest.approx(raw)
    smaller, larger = sorted(raw)
    assert a.p_value_holm == pytest.approx(min(1.0, 2 * smaller))
    assert b.p_value_holm == pytest.approx(max(min(1.0, 2 * smaller), larger))
    assert a.significant and not b.significant


def test_the_verdict_waits_for_the_minimum_per_arm() -> None:
    results = variant_results(("a", 500, 90), ("holdout", 60, 3))

    decided = verdict(results, "holdout", 100, has_goal=True)
    enough, sentence = decided.enough_data, decided.sentence

    assert not enough
    assert sentence == (
        "Not enough data yet: every arm needs at least 100 entries (holdout has 60)."
    )


def test_the_verdict_names_a_significant_winner() -> None:
    results = variant_results(("a", 1000, 150), ("b", 1000, 112), ("holdout", 1000, 100))

    decided = verdict(results, "holdout", 100, has_goal=True)
    enough, sentence = decided.enough_data, decided.sentence

    assert enough
    assert sentence.startswith("a converts better than holdout: 15.0% vs 10.0% (+5.0 points")


def test_the_verdict_says_when_nothing_differs_yet() -> None:
    results = variant_results(("a", 1000, 105), ("holdout", 1000, 100))

    decided = verdict(results, "holdout", 100, has_goal=True)
    enough, sentence = decided.enough_data, decided.sentence

    assert enough
    assert sentence.startswith("No variant converts differently from holdout at the 5% level")
