"""Expiry policies in loyalty.yaml: validated with the line of the problem; dates per policy."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from loyalflow.rules.loyalty import LoyaltyRulesError, load_rules
from loyalflow.rules.points_expiry import PointsExpiry, add_months

RULES = """currency: EUR
tiers:
  levels:
    - {name: Bronze, threshold: 0}
points_expiry:
  policy: {policy}
{extra}
"""


def write(tmp_path: Path, policy: str, extra: str = "") -> Path:
    path = tmp_path / "loyalty.yaml"
    path.write_text(RULES.replace("{policy}", policy).replace("{extra}", extra))
    return path


def test_the_shipped_rules_never_expire_points() -> None:
    rules = load_rules(Path("loyalflow/rules/loyalty.yaml"))
    assert rules.points_expiry.policy == "never"
    assert rules.points_expiry.expires_at(datetime(2026, 1, 1, tzinfo=UTC), None) is None


@pytest.mark.parametrize(
    ("policy", "extra", "line", "message"),
    [
        ("per_lot", "", 5, "policy 'per_lot' needs `months`"),
        ("forever", "", 6, "Input should be 'never', 'rolling', 'per_lot' or 'end_of_period'"),
        ("per_lot", "  months: 0", 7, "greater than 0"),
        ("end_of_period", "  period: decade", 7, "Input should be 'year' or 'quarter'"),
        ("never", "  months: 12", 5, "`months` does not apply to policy 'never'"),
        ("never", "  reminder_days: [7, 7]", 5, "must not repeat"),
    ],
)
def test_a_bad_policy_names_the_line_and_field(
    tmp_path: Path, policy: str, extra: str, line: int, message: str
) -> None:
    with pytest.raises(LoyaltyRulesError) as error:
        load_rules(write(tmp_path, policy, extra))
    assert f"line {line}: points_expiry" in str(error.value)
    assert message in str(error.value)


def test_each_policy_dates_a_lot() -> None:
    earned = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
    idle_since = datetime(2026, 3, 10, tzinfo=UTC)
    per_lot = PointsExpiry(policy="per_lot", months=1)
    rolling = PointsExpiry(policy="rolling", months=6)
    yearly = PointsExpiry(policy="end_of_period", period="year")
    quarterly = PointsExpiry(policy="end_of_period", period="quarter")
    assert per_lot.expires_at(earned, idle_since) == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    assert rolling.expires_at(earned, idle_since) == datetime(2026, 9, 10, tzinfo=UTC)
    assert yearly.expires_at(earned, None) == datetime(2028, 1, 1, tzinfo=UTC)
    assert quarterly.expires_at(datetime(2026, 5, 20, tzinfo=UTC), None) == datetime(
        2026, 10, 1, tzinfo=UTC
    )
    assert add_months(datetime(2026, 11, 30, tzinfo=UTC), 3) == datetime(2027, 2, 28, tzinfo=UTC)
