"""The experiment's verdict on the console reads in the viewer's language: each sentence
`verdict` can say has its French, and the French keeps every figure."""

from loyalflow.analytics.experiment_report import verdict
from loyalflow.analytics.experiment_stats import Arm, compare
from loyalflow.analytics.journey_models import VariantResult
from loyalflow.console.i18n import CATALOGS, translator


def test_every_experiment_verdict_reads_in_french() -> None:
    arms = [("a", 1000, 150), ("b", 1000, 112), ("holdout", 1000, 100)]
    below, worse = list(arms), [("a", 1000, 60), ("holdout", 1000, 100)]
    below[2] = ("holdout", 60, 3)
    verdicts = [
        verdict(_variants(below), "holdout", 100, has_goal=True),
        verdict(_variants(arms), "holdout", 100, has_goal=False),
        verdict(_variants([("a", 1000, 105), ("holdout", 1000, 100)]), "holdout", 100, True),
        verdict(_variants([("a", 1000, 0), ("holdout", 1000, 0)]), "holdout", 100, True),
        verdict(_variants(arms), "holdout", 100, has_goal=True),
        verdict(_variants(worse), "holdout", 100, has_goal=True),
    ]
    assert len({v.text for v in verdicts}) == len(verdicts)  # every sentence the verdict has
    french = translator("fr")
    for decided in verdicts:
        assert decided.text in CATALOGS["fr"], decided.text
        sentence = french(decided.text, **decided.values)
        assert sentence != decided.sentence
        assert all(value in sentence for value in decided.values.values())
    assert french(verdicts[4].text, **verdicts[4].values).startswith(
        "a convertit mieux que holdout : 15.0% contre 10.0% (+5.0 points"
    )


def _variants(arms: list[tuple[str, int, int]]) -> list[VariantResult]:
    control = arms[-1][0]
    compared = compare([Arm(n, c, e) for n, e, c in arms], control)
    return [
        VariantResult(
            variant=n, entered=e, control=n == control, conversion=compared[n], clicks=None
        )
        for n, e, _ in arms
    ]
