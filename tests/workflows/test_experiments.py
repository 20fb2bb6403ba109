"""A/B assignment is a pure hash of (experiment, member): stable, and split as weighted."""

import hashlib
from collections import Counter

import pytest

from loyalflow.models.experiments import assign_variant, bucket

MEMBERS = [f"M-{n:06d}" for n in range(10_000)]


@pytest.mark.parametrize(
    "groups",
    [
        (("email", 45), ("sms", 45), ("holdout", 10)),
        (("a", 50), ("b", 50)),
        (("a", 70), ("b", 20), ("c", 10)),
        (("only", 100),),
    ],
)
def test_the_observed_split_over_10000_members_is_within_2_points_of_the_weights(
    groups: tuple[tuple[str, int], ...],
) -> None:
    counts = Counter(assign_variant("reactivation.channel", m, groups) for m in MEMBERS)
    assert set(counts) == {name for name, _ in groups}
    for name, weight in groups:
        assert abs(100 * counts[name] / len(MEMBERS) - weight) <= 2, (name, counts)


def test_the_same_member_always_gets_the_same_variant() -> None:
    groups = (("a", 50), ("b", 50))
    first = [assign_variant("welcome.subject_line", m, groups) for m in MEMBERS[:1000]]
    again = [assign_variant("welcome.subject_line", m, groups) for m in MEMBERS[:1000]]
    assert first == again
    assert "a" in first and "b" in first


def test_experiments_are_independent_of_each_other() -> None:
    """Another experiment reshuffles members: being in `a` here says nothing about `a` there."""
    groups = (("a", 50), ("b", 50))
    one = [assign_variant("exp.one", m, groups) for m in MEMBERS]
    two = [assign_variant("exp.two", m, groups) for m in MEMBERS]
    same = sum(x == y for x, y in zip(one, two, strict=True))
    assert abs(same / len(MEMBERS) - 0.5) <= 0.02


def test_buckets_are_a_sha256_of_experiment_and_member() -> None:
    # Not hash(): the same in every process (PYTHONHASHSEED) and on every worker.
    for member_id in ("M-1", "M-2", "M-1001"):
        digest = hashlib.sha256(f"welcome.subject_line\x00{member_id}".encode()).digest()
        expected = int.from_bytes(digest[:8], "big") % 10_000
        assert bucket("welcome.subject_line", member_id) == expected
