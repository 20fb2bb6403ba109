"""The experiment's verdict on the console reads in the viewer's language: each sentence
`verdict` can say has its French, and the French keeps every figure."""

from loyalflow.analytics.experiment_report import verdict
from loyalflow.console.i18n import CATALOGS, translator
from tests.analytics.experiment_arms import variant_results


def test_every_experiment_verdict_reads_in_french() -> None:
    arms = [("a", 1000, 150), ("b", 1000, 112), ("holdout", 1000, 100)]
    below = [("a", 500, 90), ("holdout", 60, 3)]
    worse = [("a", 1000, 60), ("holdout", 1000, 100)]
    verdicts = [
        verdict(variant_results(*below), "holdout", 100, has_goal=True),
        verdict(variant_results(*arms), "holdout", 100, has_goal=False),
        verdict(variant_results(("a", 1000, 105), ("holdout", 1000, 100)), "holdout", 100, True),
        verdict(variant_results(("a", 1000, 0), ("holdout", 1000, 0)), "holdout", 100, True),
        verdict(variant_results(*arms), "holdout", 100, has_goal=True),
        verdict(variant_results(*worse), "holdout", 100, has_goal=True),
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
