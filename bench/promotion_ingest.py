"""Benchmark: ingestion with a points promotion active vs without (issue 14: within 10%).

    python bench/promotion_ingest.py [--events 20000] [--batch 500] [--members 500]
                                     [--db sqlite|postgresql] [--rounds 3]

`store_events` (the ingestion transaction the API runs, no routing) over batches of purchases
for existing members, alternately with the shipped rules and with the same rules plus two
active promotions (one unconditional, one with a condition on the member and the event), each
on its own fresh database. Reports events/s per run and the ratio of the medians.
"""

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from loyalflow.catalog.event_types import BUILT_IN_ONLY
from loyalflow.config import Settings
from loyalflow.members.ingest import store_events, upsert_member
from loyalflow.models.api import EventIn, MemberIn
from loyalflow.models.db import get_engine, upgrade_database
from loyalflow.rules.loyalty import LoyaltyRules, rules_from
from loyalflow.rules.promotions import Promotion, Promotions

PG_BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_promotion_ingest"


def promoted(rules: LoyaltyRules, now: datetime) -> LoyaltyRules:
    start, end = (
        (now - timedelta(days=30)).replace(tzinfo=None),
        (now + timedelta(days=30)).replace(tzinfo=None),
    )
    offers = (
        Promotion(id="double", multiplier=2, starts=start, ends=end, timezone="Europe/Paris"),
        Promotion(
            id="gold-shoes",
            multiplier=3,
            starts=start,
            ends=end,
            condition="member.tier in ['Gold', 'Platinum'] or event.category == 'shoes'",
        ),
    )
    return rules.model_copy(update={"promotions": Promotions(overlapping="stack", offers=offers)})


def fresh_database(kind: str, directory: Path, run: int) -> str:
    if kind == "sqlite":
        url = f"sqlite:///{directory / f'run{run}.db'}"
    else:
        with get_engine(PG_BASE_URL).begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
        scoped = make_url(PG_BASE_URL).update_query_dict({"options": f"-csearch_path={PG_SCHEMA}"})
        url = scoped.render_as_string(hide_password=False)
    upgrade_database(url)
    return url


def run(url: str, rules: LoyaltyRules, events: int, batch: int, members: int) -> float:
    for n in range(members):
        upsert_member(url, f"B-{n:05d}", MemberIn())
    rng = random.Random(1)
    now = datetime.now(UTC)
    planned = [
        EventIn(
            event_id=f"e-{n}",
            member_id=f"B-{rng.randrange(members):05d}",
            type="purchase",
            occurred_at=now - timedelta(seconds=events - n),
            properties={
                "amount": round(rng.uniform(5, 200), 2),
                "category": rng.choice(["shoes", "bags", "hats"]),
            },
        )
        for n in range(events)
    ]
    started = time.perf_counter()
    for start in range(0, events, batch):
        store_events(url, planned[start : start + batch], rules, BUILT_IN_ONLY)
    return events / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    base = rules_from(Settings(_env_file=None).loyalty_rules_file)
    with_promotion = promoted(base, datetime.now(UTC))
    rates: dict[str, list[float]] = {"without": [], "with": []}
    with tempfile.TemporaryDirectory() as directory:
        for round_ in range(args.rounds):
            for label, rules in (("without", base), ("with", with_promotion)):
                url = fresh_database(
                    args.db, Path(directory), len(rates[label]) + 10 * round_ + (label == "with")
                )
                rate = run(url, rules, args.events, args.batch, args.members)
                get_engine(url).dispose()
                rates[label].append(rate)
                print(f"round {round_ + 1} {label:>7} promotion: {rate:,.0f} events/s")
    if args.db == "postgresql":
        with get_engine(PG_BASE_URL).begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
    without, with_ = statistics.median(rates["without"]), statistics.median(rates["with"])
    print(
        f"median: {without:,.0f} events/s without, {with_:,.0f} with: {with_ / without:.1%} of the rate"
    )


if __name__ == "__main__":
    main()
