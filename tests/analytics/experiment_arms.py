"""Variant results for verdict tests: arms as (variant, entered, converted), the last the control,
compared as the experiment report compares them."""

from loyalflow.analytics.experiment_stats import Arm, compare
from loyalflow.analytics.journey_models import VariantResult


def variant_results(*arms: tuple[str, int, int]) -> list[VariantResult]:
    control = arms[-1][0]
    compared = compare([Arm(n, c, e) for n, e, c in arms], control)
    return [
        VariantResult(
            variant=n, entered=e, control=n == control, conversion=compared[n], clicks=None
        )
        for n, e, _ in arms
    ]
