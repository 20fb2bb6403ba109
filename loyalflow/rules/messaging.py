"""The messaging policy: consent rules per topic and channel, quiet hours, frequency caps.

Pure rules (no I/O beyond loading the file), so quiet hours and caps are easy to reason about and
test, including across daylight-saving changes.
"""

from datetime import datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from loyalflow.models.durations import Duration
from loyalflow.rules.files import ConfigFileError, load_yaml_model

Channel = Literal["email", "sms"]
ConsentRule = Literal["granted", "unless_revoked", "always"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TopicRules(_Strict):
    email: ConsentRule
    sms: ConsentRule
    # Opens and clicks tracked on this topic; default: yes, unless the topic is transactional
    # (`email: always`), whose messages a member cannot refuse and so should not be watched.
    tracking: bool | None = None

    @property
    def tracked(self) -> bool:
        return self.tracking if self.tracking is not None else self.email != "always"


class QuietHours(_Strict):
    start: time
    end: time

    def deferral(self, now: datetime, timezone: str) -> datetime | None:
        """When a message due at `now` may go out, or None if `now` is outside the window."""
        zone = ZoneInfo(timezone)
        local = now.astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        overnight = self.start > self.end  # e.g. 21:00-08:00 spans midnight
        inside = (
            (clock >= self.start or clock < self.end)
            if overnight
            else self.start <= clock < self.end
        )
        if not inside:
            return None
        end_day = local.date()
        if overnight and clock >= self.start:
            end_day += timedelta(days=1)
        # Wall-clock arithmetic in the member's zone, so a DST change moves the instant, not 08:00.
        return datetime.combine(end_day, self.end, tzinfo=zone)


class FrequencyCap(_Strict):
    channel: Channel | Literal["any"]
    topic: str | None = None
    max: Annotated[int, Field(ge=1)]
    per: Duration

    def applies_to(self, channel: str, topic: str) -> bool:
        return self.channel in (channel, "any") and self.topic in (None, topic)

    def describe(self) -> str:
        channel = "messages" if self.channel == "any" else f"{self.channel} messages"
        scope = channel + (f" on {self.topic}" if self.topic else "")
        return f"at most {self.max} {scope} per {human_duration(self.per)}"


def human_duration(value: timedelta) -> str:
    if value % timedelta(days=1) == timedelta(0):
        days = value // timedelta(days=1)
        return f"{days} day{'s' if days != 1 else ''}"
    return str(value)


class MessagingPolicy(_Strict):
    topics: dict[str, TopicRules]
    quiet_hours: dict[Channel, QuietHours] = Field(default_factory=dict)
    frequency_caps: tuple[FrequencyCap, ...] = ()
    deferral_expiry: Duration = timedelta(days=3)

    def consent_rule(self, topic: str, channel: Channel) -> ConsentRule | None:
        rules = self.topics.get(topic)
        return None if rules is None else getattr(rules, channel)

    def tracked(self, topic: str | None) -> bool:
        rules = self.topics.get(topic or "")
        return rules is not None and rules.tracked


# Kept as a name of its own so callers can catch this file's errors specifically.
MessagingPolicyError = ConfigFileError


def load_policy(path: Path) -> MessagingPolicy:
    return load_yaml_model(path, MessagingPolicy, "messaging policy")


@lru_cache(maxsize=4)
def policy_from(path: Path) -> MessagingPolicy:
    return load_policy(path)
