"""A synthetic loyalty program for `loyalflow demo`, reproducible from a seed.

About a third of the members joined in the year before the simulation (their history is
backfilled, never routed); the rest join during it. Each member has a purchase habit: some never
buy, the others buy at a Poisson rate of their own (exponential gaps) with lognormal amounts, and
many churn: they go quiet for good at some point, which is what the reactivation journey is for.
"""

import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from loyalflow.models.api import MemberIn
from loyalflow.models.field_values import normalise_phone

LOCALES = (("en", 50), ("fr", 32), ("fr-CA", 18))
TIMEZONES = {
    "en": ("Europe/London", "America/New_York", "America/Chicago", "America/Los_Angeles"),
    "fr": ("Europe/Paris", "Europe/Paris", "Europe/Brussels", "Indian/Reunion"),
    "fr-CA": ("America/Toronto", "America/Toronto"),
}
FIRST_NAMES = {
    "en": ("Ada", "Grace", "Alan", "Mary", "John", "Olivia", "Noah", "Emma", "Liam", "Ava"),
    "fr": ("Camille", "Louis", "Chloé", "Hugo", "Léa", "Jules", "Manon", "Gabriel", "Inès"),
    "fr-CA": ("Félix", "Florence", "Olivier", "Rosalie", "Mathis", "Béatrice", "Éloïse"),
}
# Mobile numbers: (prefix, random digits after it).
PHONE_FORMAT = {"en": ("+447", 9), "fr": ("+336", 8), "fr-CA": ("+15142", 6)}
EXISTING_SHARE = 0.35
NEVER_BUYS = 0.2
REFERRED_SHARE = 0.15  # of the members joining during the simulation, named by an existing one
REDEEMING_SHARE = 0.3  # of the buyers, who try to redeem a reward once
# Not an event clients post: the demo redeems it through `redeem`, as the API would.
REDEMPTION = "redemption"
DEMO_REWARD = "coffee"


@dataclass(frozen=True)
class PlannedEvent:
    at: timedelta  # from the start of the simulation; negative: history
    member_id: str
    type: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SyntheticMember:
    id: str
    profile: MemberIn
    joined: timedelta
    sms_consent: bool


@dataclass
class Program:
    members: list[SyntheticMember]
    events: list[PlannedEvent]  # sorted by time

    def history(self) -> list[PlannedEvent]:
        return [e for e in self.events if e.at < timedelta(0)]

    def live(self) -> list[PlannedEvent]:
        return [e for e in self.events if e.at >= timedelta(0)]


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _phone(rng: random.Random, locale: str) -> str | None:
    prefix, length = PHONE_FORMAT[locale]
    for _ in range(20):
        candidate = prefix + "".join(str(rng.randrange(10)) for _ in range(length))
        try:
            return normalise_phone(candidate)
        except ValueError:
            continue  # not a valid number for that country: draw again
    return None


def _member(rng: random.Random, number: int, days: int) -> SyntheticMember:
    locale = _weighted(rng, LOCALES)
    existing = rng.random() < EXISTING_SHARE
    joined = (
        -timedelta(days=rng.uniform(20, 400))
        if existing
        else timedelta(days=rng.uniform(0, days - 1))
    )
    phone = _phone(rng, locale) if rng.random() < 0.45 else None
    profile = MemberIn(
        email=f"member{number:05d}@example.com" if rng.random() < 0.97 else None,
        phone=phone,
        first_name=rng.choice(FIRST_NAMES[locale]),
        locale=locale,
        timezone=rng.choice(TIMEZONES[locale]),
    )
    return SyntheticMember(
        id=f"DEMO-{number:05d}",
        profile=profile,
        joined=joined,
        sms_consent=phone is not None and rng.random() < 0.6,
    )


def _purchases(rng: random.Random, member: SyntheticMember, end: timedelta) -> list[PlannedEvent]:
    if rng.random() < NEVER_BUYS:
        return []
    mean_gap_days = rng.lognormvariate(3.0, 0.7)  # a median of about 20 days between purchases
    basket = rng.lognormvariate(3.6, 0.6)  # a median basket of about 37
    # Churn: half the buyers go quiet for good after a while.
    quits = member.joined + timedelta(days=rng.expovariate(1 / 60)) if rng.random() < 0.5 else end
    # A first purchase soon after joining for most, later for some.
    at = member.joined + timedelta(days=rng.expovariate(1 / 6))
    events: list[PlannedEvent] = []
    while at < min(quits, end):
        amount = round(basket * rng.lognormvariate(0, 0.35), 2)
        events.append(PlannedEvent(at, member.id, "purchase", {"amount": amount}))
        at += timedelta(days=rng.expovariate(1 / mean_gap_days))
    return events


def build_program(members: int, days: int, seed: int) -> Program:
    rng = random.Random(seed)
    end = timedelta(days=days)
    people = [_member(rng, n, days) for n in range(1, members + 1)]
    events: list[PlannedEvent] = []
    for person in people:
        events.append(PlannedEvent(person.joined, person.id, "member.joined"))
        if person.sms_consent:
            for topic in ("onboarding", "loyalty"):
                events.append(
                    PlannedEvent(
                        person.joined,
                        person.id,
                        "consent.updated",
                        {"channel": "sms", "topic": topic, "status": "granted", "source": "demo"},
                    )
                )
        events.extend(_purchases(rng, person, end))
    events += _loyalty(random.Random(seed + 1), people, events, end)
    events.sort(key=lambda e: e.at)  # stable: a join stays before its consents and referral
    return Program(people, events)


def _loyalty(
    rng: random.Random, people: list[SyntheticMember], events: list[PlannedEvent], end: timedelta
) -> list[PlannedEvent]:
    """Referrals and redemptions, drawn from a generator of their own so that the rest of the
    program stays what it was for a given seed."""
    existing = [p for p in people if p.joined < timedelta(0)]
    planned: list[PlannedEvent] = []
    referrals = 0
    for person in people:
        if existing and person.joined >= timedelta(0) and rng.random() < REFERRED_SHARE:
            # Round-robin over the existing members: no referrer nears the monthly cap.
            referrer = existing[referrals % len(existing)]
            referrals += 1
            planned.append(
                PlannedEvent(
                    person.joined, person.id, "member.referred", {"referrer_id": referrer.id}
                )
            )
    buyers = sorted({e.member_id for e in events if e.type == "purchase"})
    for member_id in buyers:
        if rng.random() < REDEEMING_SHARE:
            at = timedelta(days=rng.uniform(0, end.days))
            planned.append(PlannedEvent(at, member_id, REDEMPTION, {"reward_id": DEMO_REWARD}))
    return planned
