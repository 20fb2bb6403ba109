"""rewards.yaml: validated with the line and field of each problem."""

from pathlib import Path

import pytest

from loyalflow.rules.files import ConfigFileError
from loyalflow.rules.loyalty import TierLadder, TierLevel
from loyalflow.rules.rewards import load_rewards


def test_the_shipped_catalogue_loads() -> None:
    catalogue = load_rewards(Path("loyalflow/rules/rewards.yaml"))
    coffee = catalogue.get("coffee")
    assert coffee is not None and coffee.cost == 150 and coffee.name_in("fr-CA") == "Un café offert"


@pytest.mark.parametrize(
    ("reward", "line", "field", "message"),
    [
        ("{id: coffee, name: {en: C}, cost: 0}", 3, "rewards.1.cost", "greater than 0"),
        ("{id: Coffee!, name: {en: C}, cost: 5}", 3, "rewards.1.id", "should match pattern"),
        ("{id: tea, name: {en: T}, cost: 5, colour: red}", 3, "rewards.1.colour", "not permitted"),
        ("{id: coffee, name: {en: C}, cost: 5}", 1, "rewards", "coffee (rewards 0 and 1) repeated"),
    ],
)
def test_a_bad_reward_names_line_and_field(
    tmp_path: Path, reward: str, line: int, field: str, message: str
) -> None:
    path = tmp_path / "rewards.yaml"
    path.write_text(f"rewards:\n  - {{id: coffee, name: {{en: C}}, cost: 5}}\n  - {reward}\n")
    with pytest.raises(ConfigFileError) as error:
        load_rewards(path)
    assert f"line {line}: {field}" in str(error.value)
    assert message in str(error.value)


def test_a_min_tier_the_ladder_lacks_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "rewards.yaml"
    path.write_text("rewards:\n  - {id: lounge, name: {en: L}, cost: 5, min_tier: Diamond}\n")
    ladder = TierLadder(levels=(TierLevel(name="Bronze", threshold=0),))
    assert load_rewards(path).unknown_tiers(ladder) == [
        "rewards[0].min_tier: no tier 'Diamond' in the loyalty rules"
    ]
