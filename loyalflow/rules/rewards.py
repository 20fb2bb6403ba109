"""The rewards catalogue (`rewards.yaml`): what members can spend their points on.

Validated like the other configuration files: a problem names the file, the line and the field.
"""

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from loyalflow.rules.files import load_yaml_model
from loyalflow.rules.loyalty import TierLadder


class Reward(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    name: Annotated[
        dict[str, Annotated[str, Field(min_length=1, max_length=200)]], Field(min_length=1)
    ]
    cost: Annotated[int, Field(gt=0)]  # in points
    min_tier: str | None = None
    stock: Annotated[int, Field(ge=0)] | None = None  # None: unlimited
    active_from: AwareDatetime | None = None
    active_until: AwareDatetime | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> "Reward":
        if self.active_from and self.active_until and self.active_until <= self.active_from:
            raise ValueError("active_until must be after active_from")
        return self

    def active_at(self, at: datetime) -> bool:
        return (self.active_from is None or self.active_from <= at) and (
            self.active_until is None or at < self.active_until
        )

    def name_in(self, locale: str) -> str:
        return (
            self.name.get(locale)
            or self.name.get(locale.split("-")[0])
            or next(iter(self.name.values()))
        )


class RewardsCatalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rewards: tuple[Reward, ...] = ()

    @field_validator("rewards")
    @classmethod
    def _unique_ids(cls, rewards: tuple[Reward, ...]) -> tuple[Reward, ...]:
        ids = [reward.id for reward in rewards]
        repeated = [
            f"{i} (rewards {ids.index(i)} and {n})" for n, i in enumerate(ids) if i in ids[:n]
        ]
        if repeated:
            raise ValueError(f"reward ids must be unique: {', '.join(repeated)} repeated")
        return rewards

    def get(self, reward_id: str) -> Reward | None:
        return next((r for r in self.rewards if r.id == reward_id), None)

    def unknown_tiers(self, ladder: TierLadder) -> list[str]:
        """`min_tier` values the loyalty rules' ladder does not have (checked at start-up)."""
        return [
            f"rewards[{n}].min_tier: no tier {r.min_tier!r} in the loyalty rules"
            for n, r in enumerate(self.rewards)
            if r.min_tier is not None and ladder.rank(r.min_tier) < 0
        ]


def load_rewards(path: Path) -> RewardsCatalogue:
    return load_yaml_model(path, RewardsCatalogue, "rewards catalogue")


@lru_cache(maxsize=4)
def rewards_from(path: Path) -> RewardsCatalogue:
    """Loaded once per process; a changed file takes effect when the process restarts."""
    return load_rewards(path)
