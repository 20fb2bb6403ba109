"""The statistics of an experiment, from statsmodels (no formulas of our own):

- each arm's rate with its 95% Wilson score interval (`proportion_confint`);
- the absolute lift against the control with Newcomb's hybrid score interval, and the relative
  lift (the rate ratio minus one) with the log (Katz) interval (`confint_proportions_2indep`);
- the two-sided pooled two-proportion z-test (`proportions_ztest`);
- Holm's step-down correction over the variants compared with the same control (`multipletests`).
"""

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from statsmodels.stats.multitest import multipletests  # type: ignore[import-untyped]
from statsmodels.stats.proportion import (  # type: ignore[import-untyped]
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

from loyalflow.analytics.journey_models import Comparison, Interval

ALPHA = 0.05


@dataclass(frozen=True)
class Arm:
    name: str
    successes: int
    trials: int


def wilson(successes: int, trials: int, alpha: float = ALPHA) -> Interval | None:
    if not trials:
        return None
    low, high = proportion_confint(successes, trials, alpha=alpha, method="wilson")
    return Interval(low=float(low), high=float(high))


def _interval(low: float, high: float, shift: float = 0.0) -> Interval | None:
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return Interval(low=float(low) + shift, high=float(high) + shift)


def lift_interval(arm: Arm, control: Arm, alpha: float = ALPHA) -> Interval | None:
    if not arm.trials or not control.trials:
        return None
    low, high = confint_proportions_2indep(
        arm.successes, arm.trials, control.successes, control.trials,
        method="newcomb", compare="diff", alpha=alpha,
    )  # fmt: skip
    return _interval(low, high)


def relative_lift_interval(arm: Arm, control: Arm, alpha: float = ALPHA) -> Interval | None:
    """The ratio's interval minus one; None when a rate is 0 (the log interval is undefined)."""
    if not arm.successes or not control.successes:
        return None
    low, high = confint_proportions_2indep(
        arm.successes, arm.trials, control.successes, control.trials,
        method="log", compare="ratio", alpha=alpha,
    )  # fmt: skip
    return _interval(low, high, shift=-1.0)


def z_test(arm: Arm, control: Arm) -> float | None:
    """Two-sided p-value; None when undefined (an empty arm, or every rate 0 or 1)."""
    if not arm.trials or not control.trials:
        return None
    pooled = (arm.successes + control.successes) / (arm.trials + control.trials)
    if pooled in (0.0, 1.0):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        _, p_value = proportions_ztest(
            [arm.successes, control.successes], [arm.trials, control.trials]
        )
    return float(p_value) if math.isfinite(p_value) else None


def holm(p_values: Sequence[float | None], alpha: float = ALPHA) -> list[float | None]:
    """Holm-adjusted p-values; undefined ones stay None and do not count as tests."""
    defined = [p for p in p_values if p is not None]
    if not defined:
        return [None] * len(p_values)
    _, adjusted, _, _ = multipletests(defined, alpha=alpha, method="holm")
    values = iter(float(p) for p in adjusted)
    return [next(values) if p is not None else None for p in p_values]


def compare(arms: Sequence[Arm], control: str, alpha: float = ALPHA) -> dict[str, Comparison]:
    """Every arm against `control`, Holm-corrected over the arms that are not the control."""
    reference = next(a for a in arms if a.name == control)
    others = [a for a in arms if a.name != control]
    raw = [z_test(a, reference) for a in others]
    adjusted = dict(zip([a.name for a in others], holm(raw, alpha), strict=True))
    raw_by_name = dict(zip([a.name for a in others], raw, strict=True))
    results = {}
    for arm in arms:
        rate = arm.successes / arm.trials if arm.trials else None
        is_control = arm.name == control
        control_rate = reference.successes / reference.trials if reference.trials else None
        lift = None if is_control or rate is None or control_rate is None else rate - control_rate
        relative = (
            None if is_control or rate is None or not control_rate else rate / control_rate - 1
        )
        p_holm = None if is_control else adjusted[arm.name]
        results[arm.name] = Comparison(
            successes=arm.successes,
            trials=arm.trials,
            rate=rate,
            rate_interval=wilson(arm.successes, arm.trials, alpha),
            lift=lift,
            lift_interval=None if is_control else lift_interval(arm, reference, alpha),
            relative_lift=relative,
            relative_lift_interval=(
                None if is_control else relative_lift_interval(arm, reference, alpha)
            ),
            p_value=None if is_control else raw_by_name[arm.name],
            p_value_holm=p_holm,
            significant=p_holm is not None and p_holm < alpha,
        )
    return results
