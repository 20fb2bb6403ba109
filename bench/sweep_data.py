"""The program bench/sweep.py sweeps: 1,000,000 generated members (CSV, bulk insert), spread activity and running enrollments."""

import csv
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import phonenumbers
from sqlalchemy import (
    BigInteger,
    cast,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlmodel import col
from sweep_shapes import ENROLLED_MODULUS, SEED

from loyalflow.activities.segment_query import prefilter
from loyalflow.models.conditions import parse_condition
from loyalflow.models.db import get_engine
from loyalflow.models.journey import Journey
from loyalflow.models.tables import Enrollment, Member

TWO_YEARS_SECONDS = 730 * 86400


KNUTH = 2654435761  # multiplicative hash of the id's digits


BULK_CHUNK = 10_000


FIRST_NAMES = ["Ada", "Bruno", "Chloé", "Dmitri", "Élodie", "Farid", "Grace", "Hugo", "Inès"]


LOCALES = ["en", "fr", "fr-CA", "de", "es", "it", "nl"]


ZONES = ["Europe/Paris", "Europe/Berlin", "America/Montreal", "UTC", "Europe/Madrid"]


COLUMNS = ["member_id", "email", "phone", "first_name", "locale", "timezone", "home_store"]


def mobile_number(rng: random.Random) -> str:
    """A French mobile number in E.164 that the importer accepts (not every 06 range is)."""
    while True:
        number = f"+33{rng.choice('67')}{rng.randrange(10_000_000, 100_000_000)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number


def generate_csv(path: Path, count: int) -> None:
    """Card-number-like ids (`LF-` and 9 digits, in no particular order), 40% with a phone."""
    rng = random.Random(SEED)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for number in rng.sample(range(100_000_000, 1_000_000_000), count):
            name = FIRST_NAMES[number % len(FIRST_NAMES)]
            phone = mobile_number(rng) if rng.random() < 0.4 else ""
            writer.writerow(
                [
                    f"LF-{number}",
                    f"m{number}@example.com",
                    phone,
                    name,
                    LOCALES[number % len(LOCALES)],
                    ZONES[number % len(ZONES)],
                    f"S-{number % 120:03d}",
                ]
            )


def split_csv(source: Path, head: Path, head_rows: int) -> list[list[str]]:
    """Writes the header and the first rows to `head`; returns the other rows."""
    with source.open(newline="", encoding="utf-8") as file, head.open("w", newline="") as out:
        reader, writer = csv.reader(file), csv.writer(out)
        writer.writerow(next(reader))
        for _ in range(head_rows):
            row = next(reader, None)
            if row is None:
                break
            writer.writerow(row)
        return list(reader)


def bulk_insert(url: str, rows: list[list[str]]) -> None:
    """Multi-row INSERTs of rows the generator made valid and normalised (no validation)."""
    now = datetime.now(UTC)
    with get_engine(url).begin() as connection:
        for start in range(0, len(rows), BULK_CHUNK):
            values = [
                {
                    "id": member_id,
                    "email": email,
                    "phone": phone or None,
                    "first_name": first_name,
                    "locale": locale,
                    "timezone": timezone,
                    "points": 0,
                    "purchase_count": 0,
                    "total_spent": Decimal(0),
                    "attributes": {"home_store": store},
                    "created_at": now,
                    "updated_at": now,
                }
                for member_id, email, phone, first_name, locale, timezone, store in rows[
                    start : start + BULK_CHUNK
                ]
            ]
            connection.execute(insert(Member), values)


def spread_activity(url: str, now: datetime) -> int:
    """One UPDATE: last activity between now and two years ago, by a hash of the id's digits."""
    epoch = int(now.timestamp())
    seconds_ago = f"((CAST(substr(id, 4) AS BIGINT) * {KNUTH}) % {TWO_YEARS_SECONDS})"
    if make_url(url).get_backend_name() == "sqlite":
        # The text format SQLAlchemy's SQLite DateTime writes and compares.
        value = f"strftime('%Y-%m-%d %H:%M:%S', {epoch} - {seconds_ago}, 'unixepoch') || '.000000'"
    else:
        value = f"to_timestamp({epoch} - {seconds_ago})"
    with get_engine(url).begin() as connection:
        return connection.execute(text(f"UPDATE member SET last_activity_at = {value}")).rowcount


def enroll_some(url: str, journey: Journey, as_of: datetime) -> int:
    """Running enrollments (entry 1, entered 10 days ago) for the members of the journey's
    segment whose id's digits are a multiple of ENROLLED_MODULUS: the re-entry rule keeps them
    out, so segment_page's NOT EXISTS finds a row for 5% of the members it reads."""
    assert journey.trigger.segment is not None
    condition = parse_condition(journey.trigger.segment, allow_event=False)
    entered_at = Enrollment.__table__.c.entered_at  # type: ignore[attr-defined]
    chosen = select(
        literal(journey.workflow_id("")) + col(Member.id),
        literal(journey.id),
        literal(journey.version),
        col(Member.id),
        literal(1),
        literal(as_of - timedelta(days=10), entered_at.type),
    ).where(
        prefilter(condition, as_of),
        cast(func.substr(col(Member.id), 4), BigInteger) % ENROLLED_MODULUS == 0,
    )
    columns = ["workflow_id", "journey_id", "journey_version", "member_id", "entry", "entered_at"]
    with get_engine(url).begin() as connection:
        connection.execute(insert(Enrollment).from_select(columns, chosen))
        # Counted: psycopg reports rowcount -1 for this INSERT … SELECT.
        count = (
            select(func.count())
            .select_from(Enrollment)
            .where(col(Enrollment.journey_id) == journey.id)
        )
        return connection.execute(count).scalar_one()
