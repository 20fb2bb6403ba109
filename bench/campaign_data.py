"""bench/campaign.py's program and probes: inactive, consented members in SQL, the API probe
(`GET /healthz`, `POST /events` latencies), RSS from /proc, the ledger's progress."""

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

import httpx
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from loyalflow.models.tables import Consent, Enrollment, Member, Message

CHUNK = 5_000
JOURNEY = "reactivation"
PROBE_MEMBER = "probe-member"
PROBE_PAUSE_SECONDS = 0.5
DONE_STATUSES = ("sent", "delivered", "skipped", "failed", "bounced")


def morning_zone(now: datetime) -> str:
    """A fixed-offset zone where it is 09:00-09:59 at `now`: SMS quiet hours (21:00-08:00, in
    the member's zone) start 11 hours later at the earliest. A run in UTC from 20:16 had its
    SMS deferred to the next morning from 21:00 (bench/README.md, session 9)."""
    offset = (9 - now.hour + 12) % 24 - 12  # hours east of UTC, -12..11
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT+N is N hours west


def insert_members(engine: Engine, count: int, now: datetime) -> None:
    """`count` members inactive for 200 days (the segment wants >= 90) with an email and a
    phone, SMS consent granted for the journey's topic (email's rule is unless_revoked), in a
    zone where it is morning (`morning_zone`: no quiet hours for the run's first 11 hours); and
    one active member, the probe's."""
    inactive = now - timedelta(days=200)
    zone = morning_zone(now)
    with engine.begin() as connection:
        for first in range(0, count, CHUNK):
            numbers = range(first, min(first + CHUNK, count))
            members = [
                {
                    "id": f"C-{n:07d}",
                    "email": f"c{n}@example.com",
                    "phone": f"+3361{n:07d}",
                    "first_name": "Camille",
                    "locale": "en",
                    "timezone": zone,
                    "points": 0,
                    "purchase_count": 0,
                    "total_spent": Decimal(0),
                    "attributes": {},
                    "last_activity_at": inactive,
                    "created_at": inactive,
                    "updated_at": inactive,
                }
                for n in numbers
            ]
            connection.execute(insert(Member), members)
            consents = [
                {
                    "member_id": f"C-{n:07d}",
                    "channel": "sms",
                    "topic": "loyalty",
                    "status": "granted",
                    "at": inactive,
                }
                for n in numbers
            ]
            connection.execute(insert(Consent), consents)
        connection.execute(
            insert(Member),
            [
                {
                    "id": PROBE_MEMBER,
                    "email": "probe@example.com",
                    "locale": "en",
                    "timezone": "UTC",
                    "points": 0,
                    "purchase_count": 0,
                    "total_spent": Decimal(0),
                    "attributes": {},
                    "last_activity_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )


@dataclass(frozen=True)
class Progress:
    enrolled: int
    split: int  # past the channel test: the variant is set
    should_send: int  # not in the holdout
    sent: int  # sent or delivered
    final: int  # in a final state (sent, skipped, failed...)
    last_sent_at: datetime | None


def progress(engine: Engine) -> Progress:
    """The journey's enrollments and messages so far, counted in SQL."""
    with engine.connect() as connection:
        enrolled = connection.execute(
            select(
                func.count(),
                func.count(col(Enrollment.variant)),
                func.count().filter(col(Enrollment.variant).in_(["email", "sms"])),
            )
            .select_from(Enrollment)
            .where(col(Enrollment.journey_id) == JOURNEY)
        ).one()
        messages = connection.execute(
            select(
                func.count().filter(col(Message.status).in_(["sent", "delivered"])),
                func.count().filter(col(Message.status).in_(DONE_STATUSES)),
                func.max(col(Message.sent_at)),
            ).where(col(Message.journey_id) == JOURNEY)
        ).one()
    return Progress(*enrolled, messages[0], messages[1], messages[2])


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def mib(kib: float) -> float:
    return round(kib / 1024, 1)


class ApiProbe(threading.Thread):
    """One `GET /healthz` and one `POST /events` (an `app.opened` of the probe member, who is in
    no journey) after the other, then a pause: latencies in ms while the campaign runs."""

    def __init__(self, api_url: str) -> None:
        super().__init__(daemon=True)
        self.api_url = api_url
        self.latencies: dict[str, list[float]] = {"healthz": [], "events": []}
        self.errors = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.api_url, timeout=30) as http:
            while not self.stopping.is_set():
                self._timed("healthz", partial(http.get, "/healthz"))
                event = {
                    "event_id": f"probe-{uuid.uuid4()}",
                    "member_id": PROBE_MEMBER,
                    "type": "app.opened",
                    "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                }
                self._timed("events", partial(http.post, "/events", json=[event]))
                self.stopping.wait(PROBE_PAUSE_SECONDS)

    def _timed(self, name: str, call: Callable[[], httpx.Response]) -> None:
        began = time.perf_counter()
        try:
            response = call()
            ok = response.status_code < 300
        except httpx.HTTPError:
            ok = False
        elapsed = (time.perf_counter() - began) * 1000
        if ok:
            self.latencies[name].append(elapsed)
        else:
            self.errors += 1

    def summary(self) -> dict[str, dict[str, float]]:
        return {name: percentiles(values) for name, values in self.latencies.items()}


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {
        "count": len(ordered),
        "p50": at(0.5),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(ordered[-1], 1),
    }


def statuses(engine: Engine) -> dict[str, int]:
    """The journey's messages by channel and status (e.g. `email sent`)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(col(Message.channel), col(Message.status), func.count())
            .where(col(Message.journey_id) == JOURNEY)
            .group_by(col(Message.channel), col(Message.status))
        ).all()
    return {f"{channel} {status}": count for channel, status, count in rows}
