"""Benchmark: the points expiry sweep over a large ledger on PostgreSQL (not a test).

    python bench/points_expiry.py [--members 1000000] [--lots 10] [--page-size 500]

In a throwaway schema (dropped afterwards): members and their lots are generated in SQL
(generate_series), each member with `--lots` lots of 100 points earned over the past year and
expiring over the next one, about 10% of them already due. Then `expire_page` (the sweep
activity's database part: lock the page's members, expire due lots, write ledger rows and
`points.expired` / `points.expiring` events; no routing, no Temporal) runs page after page as
the workflow would (with the policy and the shipped tier ladder, as the activity passes them),
and again (the repeat must touch nothing). Reports the time, pages, rows
touched per second, and checks the invariant (member balances = sum of the ledger) in SQL.
"""

import argparse
import statistics
import time
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import make_url

from loyalflow.config import Settings
from loyalflow.members.points_sweep import expire_page
from loyalflow.models.db import get_engine, upgrade_database
from loyalflow.rules.loyalty import rules_from
from loyalflow.rules.points_expiry import PointsExpiry

PG_BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_points_expiry"
REMINDER_DAYS = [30, 7]
# As the sweep activity passes them: the policy (which dates undated lots) and the shipped tiers.
EXPIRY = PointsExpiry(policy="per_lot", months=12)
LADDER = rules_from(Settings(_env_file=None).loyalty_rules_file).tiers


def schema_url(base: str) -> str:
    admin = get_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    scoped = make_url(base).update_query_dict({"options": f"-csearch_path={PG_SCHEMA}"})
    return scoped.render_as_string(hide_password=False)


def generate(url: str, members: int, lots: int) -> float:
    """Members, their lots and one opening ledger row each, all in SQL; returns seconds."""
    started = time.perf_counter()
    statements = [
        f"""INSERT INTO member (id, locale, timezone, points, purchase_count, total_spent,
              attributes, created_at, updated_at)
            SELECT 'B-' || lpad(m::text, 8, '0'), 'en', 'UTC', {lots * 100}, 0, 0, '{{}}',
              now(), now()
            FROM generate_series(1, {members}) AS m""",
        # Expiry spread over [-36, +329) days from now by a hash: about 10% already due.
        f"""INSERT INTO points_lot (member_id, earned_at, expires_at, original, remaining)
            SELECT 'B-' || lpad(m::text, 8, '0'),
              now() - ((m * 7 + l * 13) % 365) * interval '1 day',
              now() + (((m * 2654435761::bigint + l * 40503) % 365) - 36) * interval '1 day',
              100, 100
            FROM generate_series(1, {members}) AS m, generate_series(1, {lots}) AS l""",
        """INSERT INTO points_ledger (member_id, at, kind, points, lots)
            SELECT id, now(), 'opening', points, '[]'::json FROM member""",
        "ANALYZE",
    ]
    with get_engine(url).begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    return time.perf_counter() - started


def sweep(url: str, as_of: datetime, page_size: int) -> dict[str, float]:
    cursor: str | None = None
    pages, scanned, events, expired_lots, page_times = 0, 0, 0, 0, []
    started = time.perf_counter()
    while True:
        page_started = time.perf_counter()
        page = expire_page(
            url, as_of, REMINDER_DAYS, cursor, page_size, expiry=EXPIRY, ladder=LADDER
        )
        page_times.append(time.perf_counter() - page_started)
        pages += 1
        scanned += page.scanned
        events += len(page.events)
        expired_lots += page.expired_lots
        cursor = page.next_member_id
        if cursor is None:
            break
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "pages": pages,
        "members": scanned,
        "events": events,
        "expired_lots": expired_lots,
        "median_page_ms": statistics.median(page_times) * 1000,
        "max_page_ms": max(page_times) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--lots", type=int, default=10)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--database-url", default=PG_BASE_URL)
    args = parser.parse_args()

    url = schema_url(args.database_url)
    try:
        upgrade_database(url)
        generated = generate(url, args.members, args.lots)
        print(
            f"generated {args.members:,} members, {args.members * args.lots:,} lots "
            f"in {generated:.1f} s"
        )
        as_of = datetime.now(UTC)
        first = sweep(url, as_of, args.page_size)
        # Rows the first pass wrote or changed: lots zeroed, ledger rows, members, events.
        with get_engine(url).connect() as connection:
            ledger_rows = connection.execute(
                text("SELECT count(*) FROM points_ledger WHERE kind = 'expired'")
            ).scalar_one()
            balances, ledger = connection.execute(
                text(
                    "SELECT (SELECT sum(points) FROM member), (SELECT sum(points) FROM points_ledger)"
                )
            ).one()
        touched = first["expired_lots"] + 2 * ledger_rows + first["events"]
        repeat = sweep(url, as_of, args.page_size)
        print(
            f"sweep: {first['seconds']:.1f} s, {first['pages']:.0f} pages of {args.page_size} "
            f"members ({first['members']:,.0f} members with lots due or coming due), "
            f"median page {first['median_page_ms']:.0f} ms, max {first['max_page_ms']:.0f} ms"
        )
        print(
            f"  expired {first['expired_lots']:,.0f} lots for {ledger_rows:,} members, "
            f"{first['events']:,.0f} events; {touched:,.0f} rows touched, "
            f"{touched / first['seconds']:,.0f} rows/s, {first['expired_lots'] / first['seconds']:,.0f} lots/s"
        )
        print(
            f"repeat: {repeat['seconds']:.1f} s, {repeat['events']:.0f} events, "
            f"{repeat['expired_lots']:.0f} lots (must be 0)"
        )
        print(f"invariant: member balances {balances:,} = ledger {ledger:,}: {balances == ledger}")
    finally:
        get_engine(url).dispose()
        with get_engine(args.database_url).begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))


if __name__ == "__main__":
    main()
