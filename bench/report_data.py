"""The program the report and console benchmarks read, generated inside the database with SQL:
members, events (joins, purchases with refunds, visits, tier upgrades), the built-in `welcome`
journey run for every member (enrollments, step rows, A/B assignments, its messages with opens,
clicks, bounces and SMS fallbacks, goal purchases and a few unsubscribes: `welcome_runs.py`), the
points ledger (earnings, refunds' reversals, redemptions, expiries), other journeys' messages up
to the total, and `member_activity_month`. Nothing goes through Python row by row.

PostgreSQL: `INSERT ... SELECT ... FROM generate_series`; SQLite: the same from a recursive CTE.
Secondary indexes are dropped during the load and rebuilt after it (as a bulk load would).
Member counters (purchases, spend, last purchase and activity, points) are then computed from
the generated events, so the report's "today's row corrected by later events" holds.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, inspect, text
from welcome_runs import WelcomeSql, welcome_event_count, welcome_message_count, welcome_runs

from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings
from loyalflow.members import activity_months, purchase_previous
from loyalflow.models.db import get_engine

TWO_YEARS = 730 * 86400
CHUNK = 2_000_000
SKEWED_TABLES = ("event", "points_ledger", "message", "member")


def _series(dialect: str, low: int, high: int) -> str:
    """Rows g = low..high: generate_series, or a recursive CTE on SQLite."""
    if dialect == "postgresql":
        return f"(SELECT g FROM generate_series({low}, {high}) AS g) AS series"
    return (
        f"(WITH RECURSIVE s(g) AS (SELECT {low} UNION ALL SELECT g + 1 FROM s WHERE g < {high}) "
        "SELECT g FROM s) AS series"
    )


class Sql:
    """The few expressions the two databases spell differently."""

    def __init__(self, dialect: str, now: datetime) -> None:
        self.dialect = dialect
        self.now_epoch = int(now.timestamp())

    def rand(self) -> str:  # uniform in [0, 1)
        if self.dialect == "postgresql":
            return "random()"
        return "((random() & 9007199254740991) / 9007199254740992.0)"

    def seconds_before_now(self, seconds: str) -> str:
        if self.dialect == "postgresql":
            return f"(to_timestamp({self.now_epoch}) - make_interval(secs => ({seconds})))"
        return (
            f"(strftime('%Y-%m-%d %H:%M:%S', {self.now_epoch} - CAST(({seconds}) AS INTEGER), "
            "'unixepoch') || '.000000')"
        )

    def floor_int(self, value: str) -> str:
        if self.dialect == "postgresql":
            return f"CAST(floor({value}) AS INTEGER)"
        return f"CAST({value} AS INTEGER)"  # truncates, like floor for values >= 0

    def json_amount(self, amount: str) -> str:
        if self.dialect == "postgresql":
            return f"json_build_object('amount', {amount})"
        return f"json_object('amount', {amount})"

    def json_text(self, literal: str) -> str:
        return f"'{literal}'" + ("::json" if self.dialect == "postgresql" else "")

    def round2(self, value: str) -> str:
        if self.dialect == "postgresql":
            return f"round(CAST({value} AS numeric), 2)"
        return f"round({value}, 2)"

    def joined_offset(self, member: str) -> str:
        """Seconds between the member's joining and now: the same in every statement."""
        return f"(({member} * 2654435761) % {TWO_YEARS})"


def generate_program(
    url: str,
    members: int,
    events: int,
    messages: int,
    now: datetime | None = None,
    log: Callable[[str], None] = print,
) -> None:
    """Fills an empty, migrated database. `events` counts every event, joins included."""
    now = now or datetime.now(UTC)
    engine = get_engine(url)
    sql = Sql(engine.dialect.name, now)
    dropped = _drop_secondary_indexes(engine)
    started = time.monotonic()

    def step(label: str, statements: list[str]) -> None:
        begun = time.monotonic()
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
        log(f"  {label}: {time.monotonic() - begun:.1f} s")

    step("members", [_members(sql, members)])
    step("joins", [_joins(sql, members)])
    others = events - members - welcome_event_count(members)
    for low in range(1, others + 1, CHUNK):
        step(f"events {low:,}..", [_events(sql, members, low, min(others, low + CHUNK - 1))])
    welcome = get_catalog(Settings(_env_file=None)).journeys["welcome"]
    step("welcome runs", welcome_runs(WelcomeSql(sql.dialect, now), welcome, members))
    step("ledger", ledger_statements(sql))
    generic = max(0, messages - welcome_message_count(members))
    for low in range(1, generic + 1, CHUNK):
        step(f"messages {low:,}..", [_messages(sql, members, low, min(generic, low + CHUNK - 1))])
    _create_indexes(engine, dropped, log)
    step("member counters", member_counters(sql))
    begun = time.monotonic()
    with engine.begin() as connection:
        activity_months.rebuild(connection)
        purchase_previous.rebuild(connection)
    log(f"  member activity months: {time.monotonic() - begun:.1f} s")
    if sql.dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"VACUUM ANALYZE {', '.join(SKEWED_TABLES)}"))
    else:
        step("analyze", ["ANALYZE"])
    log(f"  generated in {time.monotonic() - started:.0f} s")


def _members(sql: Sql, members: int) -> str:
    joined = sql.seconds_before_now(sql.joined_offset("g"))
    return f"""
        INSERT INTO member (id, email, locale, timezone, tier, points, joined_at, purchase_count,
                            total_spent, attributes, created_at, updated_at)
        SELECT 'm' || g, 'm' || g || '@example.com',
               CASE g % 7 WHEN 0 THEN 'en' WHEN 1 THEN 'fr' WHEN 2 THEN 'de' WHEN 3 THEN 'es'
                          WHEN 4 THEN 'it' WHEN 5 THEN 'nl' ELSE 'fr-CA' END,
               'UTC',
               CASE WHEN g % 20 < 12 THEN 'Bronze' WHEN g % 20 < 17 THEN 'Silver'
                    WHEN g % 20 < 19 THEN 'Gold' ELSE 'Platinum' END,
               0, {joined}, 0, 0, {sql.json_text("{}")}, {joined}, {joined}
        FROM {_series(sql.dialect, 1, members)}"""


def _joins(sql: Sql, members: int) -> str:
    joined = sql.seconds_before_now(sql.joined_offset("g"))
    return f"""
        INSERT INTO event (event_id, member_id, type, occurred_at, received_at, properties, routed)
        SELECT 'j' || g, 'm' || g, 'member.joined', {joined}, {joined}, {sql.json_text("{}")},
               {_true(sql)}
        FROM {_series(sql.dialect, 1, members)}"""


def _true(sql: Sql) -> str:
    return "true" if sql.dialect == "postgresql" else "1"


def _events(sql: Sql, members: int, low: int, high: int) -> str:
    """Purchases 30 % (one in 50 a refund), visits 69 %, tier upgrades 1 %; a skewed member
    choice (heavy buyers at low ids), each event between the member's joining and now."""
    at = sql.seconds_before_now(f"{sql.rand()} * {sql.joined_offset('mi')}")
    refund = sql.round2(f"-{sql.rand()} * 100")
    sale = sql.round2(f"5 + {sql.rand()} * 195")
    properties = f"""CASE t
        WHEN 'purchase' THEN {sql.json_amount(f"CASE WHEN g % 50 = 0 THEN {refund} ELSE {sale} END")}
        WHEN 'tier.upgraded' THEN {sql.json_text('{"from": "Bronze", "to": "Silver"}')}
        ELSE {sql.json_text("{}")} END"""
    return f"""
        INSERT INTO event (event_id, member_id, type, occurred_at, received_at, properties, routed)
        SELECT 'e' || g, 'm' || mi, t, {at}, {at}, {properties}, {_true(sql)}
        FROM (SELECT g,
                     1 + {sql.floor_int(f"{members} * {sql.rand()} * {sql.rand()}")} AS mi,
                     CASE WHEN g % 100 < 30 THEN 'purchase' WHEN g % 100 < 99 THEN 'visit'
                          ELSE 'tier.upgraded' END AS t
              FROM {_series(sql.dialect, low, high)}) AS chosen"""


def ledger_statements(sql: Sql, only: str = "TRUE") -> list[str]:
    """An earning (or a refund's reversal) per purchase; a redemption after one purchase in 20,
    an expiry after one in 33. `only`: a condition on the purchases' events."""
    amount = "amount"  # computed by the database from the properties
    columns = "(member_id, at, kind, points, event_id, lots)"
    return [
        f"""INSERT INTO points_ledger {columns}
            SELECT member_id, occurred_at, CASE WHEN {amount} >= 0 THEN 'earned' ELSE 'reversed' END,
                   CAST({amount} AS INTEGER), event_id, {sql.json_text("[]")}
            FROM event WHERE type = 'purchase' AND {only}""",
        f"""INSERT INTO points_ledger {columns}
            SELECT member_id, occurred_at, 'redeemed', -150, event_id || '/r', {sql.json_text("[]")}
            FROM event WHERE type = 'purchase' AND {only} AND {_generated_number()} % 20 = 0""",
        f"""INSERT INTO points_ledger {columns}
            SELECT member_id, occurred_at, 'expired', -CAST({amount} AS INTEGER) / 2,
                   event_id || '/x', {sql.json_text("[]")}
            FROM event WHERE type = 'purchase' AND {amount} > 0 AND {only}
              AND {_generated_number()} % 33 = 1""",
    ]


def _generated_number() -> str:
    """g of a background event ('e' || g); -1 for the welcome journey's goal purchases."""
    return "(CASE WHEN event_id LIKE 'e%' THEN CAST(substr(event_id, 2) AS INTEGER) ELSE -1 END)"


def _messages(sql: Sql, members: int, low: int, high: int) -> str:
    at = sql.seconds_before_now(f"{sql.rand()} * 31536000")
    return f"""
        INSERT INTO message (message_id, member_id, journey_id, workflow_id, step_id, channel,
                             template, status, fallback_ok, created_at, updated_at, sent_at)
        SELECT 'msg' || g, 'm' || mi, j, 'journey-' || j || '-m' || mi, 'send_1',
               CASE WHEN g % 5 = 0 THEN 'sms' ELSE 'email' END, j,
               CASE WHEN g % 10 < 7 THEN 'delivered' WHEN g % 10 < 9 THEN 'sent' ELSE 'skipped' END,
               {"false" if sql.dialect == "postgresql" else "0"}, {at}, {at}, {at}
        FROM (SELECT g, 1 + {sql.floor_int(f"{members} * {sql.rand()}")} AS mi,
                     CASE g % 4 WHEN 0 THEN 'birthday' WHEN 1 THEN 'first_purchase'
                                WHEN 2 THEN 'reactivation' ELSE 'tier_upgrade' END AS j
              FROM {_series(sql.dialect, low, high)}) AS chosen"""


def member_counters(sql: Sql) -> list[str]:
    amount = "amount"
    return [
        f"""UPDATE member SET purchase_count = a.orders, total_spent = a.spent,
                              first_purchase_at = a.first_at, last_purchase_at = a.last_at
            FROM (SELECT member_id, SUM(CASE WHEN {amount} >= 0 THEN 1 ELSE 0 END) AS orders,
                         SUM({amount}) AS spent,
                         MIN(CASE WHEN {amount} >= 0 THEN occurred_at END) AS first_at,
                         MAX(CASE WHEN {amount} >= 0 THEN occurred_at END) AS last_at
                  FROM event WHERE type = 'purchase' GROUP BY member_id) AS a
            WHERE a.member_id = member.id""",
        """UPDATE member SET last_activity_at = a.last_at
            FROM (SELECT member_id, MAX(occurred_at) AS last_at FROM event
                  WHERE type IN ('member.joined', 'purchase', 'visit') GROUP BY member_id) AS a
            WHERE a.member_id = member.id""",
        """UPDATE member SET points = a.points
            FROM (SELECT member_id, SUM(points) AS points FROM points_ledger GROUP BY member_id) AS a
            WHERE a.member_id = member.id""",
    ]


def _drop_secondary_indexes(engine: Engine) -> list[tuple[str, str, list[str]]]:
    """(table, name, columns) of each non-unique index, dropped for the load; an expression
    (the timeline's `coalesce(sent_at, created_at)`) stands in its column's place."""
    found = [
        (
            table,
            index["name"],
            [str(c) for c in index.get("expressions") or index["column_names"]],
        )
        for table in SKEWED_TABLES
        for index in inspect(engine).get_indexes(table)
        if not index.get("unique") and index["name"]
    ]
    with engine.begin() as connection:
        for _, name, _ in found:
            connection.execute(text(f"DROP INDEX {name}"))
    return found


def _create_indexes(
    engine: Engine, indexes: list[tuple[str, str, list[str]]], log: Callable[[str], None]
) -> None:
    begun = time.monotonic()
    with engine.begin() as connection:
        for table, name, columns in indexes:
            _create_index(connection, table, name, columns)
    log(f"  indexes: {time.monotonic() - begun:.1f} s")


def _create_index(connection: Connection, table: str, name: str, columns: list[str]) -> None:
    connection.execute(text(f"CREATE INDEX {name} ON {table} ({', '.join(columns)})"))
