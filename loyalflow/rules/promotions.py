"""Points promotions (`promotions` in loyalty.yaml): multipliers with dates in a timezone and an
optional condition in the condition language, applied to purchases at ingestion."""

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, NaiveDatetime, field_validator, model_validator


class Promotion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    multiplier: Annotated[float, Field(gt=1, le=100)]
    starts: NaiveDatetime  # local time in `timezone`
    ends: NaiveDatetime
    timezone: str = "UTC"
    # e.g. "member.tier == 'Gold'" or "event.category == 'shoes'" (checked when rules load)
    condition: Annotated[str, Field(min_length=1, max_length=1000)] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {zone!r} (an IANA name, e.g. Europe/Paris)"
            ) from None
        return zone

    @model_validator(mode="after")
    def _ends_after_start(self) -> "Promotion":
        if self.ends <= self.starts:
            raise ValueError("ends must be after starts")
        return self

    def active_at(self, at: datetime) -> bool:
        zone = ZoneInfo(self.timezone)
        return self.starts.replace(tzinfo=zone) <= at < self.ends.replace(tzinfo=zone)


class Promotions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Several promotions apply to one purchase: `best` takes the highest multiplier, `stack`
    # multiplies them together.
    overlapping: Literal["best", "stack"] = "best"
    offers: tuple[Promotion, ...] = ()

    @field_validator("offers")
    @classmethod
    def _unique_ids(cls, offers: tuple[Promotion, ...]) -> tuple[Promotion, ...]:
        ids = [offer.id for offer in offers]
        if len(set(ids)) != len(ids):
            raise ValueError("promotion ids must be unique")
        return offers
