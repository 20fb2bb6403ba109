"""The program bench/rollup.py rolls up, generated inside the database with SQL (never row by row
in Python): members, events (purchases with refunds, visits, consent changes), messages with
opens, clicks and bounces, enrollments with conversions, and points ledger rows, spread
pseudo-randomly over two years. Secondary indexes are dropped during the load and rebuilt after
it, as a bulk load would."""

import time
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, text

from loyalflow.models.points_tables import PointsLedger
from loyalflow.models.rollup_tables import table_of
from loyalflow.models.tables import Enrollment, Event, Member, Message

SPAN_SECONDS = 730 * 86400
CHUNK = 1_000_000
LOADED = (Member, Event, Message, Enrollment, PointsLedger)


class Sql:
    """What PostgreSQL and SQLite spell differently: the row source, hashing, time."""

    def __init__(self, dialect: str, now: datetime) -> None:
        self.dialect = dialect
        self.now = int(now.timestamp())

    def rows(self, low: int, high: int) -> str:
        if self.dialect == "postgresql":
            return f"generate_series({low}, {high}) AS s(g)"
        return (
            f"(WITH RECURSIVE r(g) AS (SELECT {low} UNION ALL SELECT g + 1 FROM r WHERE g < {high})"
            " SELECT g FROM r) AS s"
        )

    def hashed(self, expression: str, salt: int, modulus: int) -> str:
        """A deterministic pseudo-random integer in [0, modulus) from a row number."""
        return f"((({expression}) * 2654435761 + {salt}) % 4294967291 % {modulus})"

    def ago(self, seconds: str) -> str:
        if self.dialect == "postgresql":
            return f"(to_timestamp({self.now}) - ({seconds}) * interval '1 second')"
        return (
            f"(strftime('%Y-%m-%d %H:%M:%S', {self.now} - ({seconds}), 'unixepoch') || '.000000')"
        )

    def later(self, moment: str, seconds: str) -> str:
        if self.dialect == "postgresql":
            return f"({moment} + ({seconds}) * interval '1 second')"
        return f"(strftime('%Y-%m-%d %H:%M:%S', {moment}, '+' || ({seconds}) || ' seconds') || '.000000')"

    def text(self, expression: str) -> str:
        return f"CAST({expression} AS TEXT)" if self.dialect == "postgresql" else f"({expression})"

    def json(self, pairs: str) -> str:
        return (
            f"json_build_object({pairs})"
            if self.dialect == "postgresql"
            else f"json_object({pairs})"
        )


def _member(sql: Sql, g: str, salt: int, members: int) -> str:
    """One of the generated members, m1 to m<members>."""
    return f"'m' || {sql.text(sql.hashed(g, salt, members) + ' + 1')}"


def statements(sql: Sql, members: int, events: int, messages: int) -> list[tuple[str, int, str]]:
    """(table, rows, INSERT ... SELECT template with {low} {high}) for each table to load."""
    when = sql.ago(sql.hashed("g", 7, SPAN_SECONDS))
    kind = sql.hashed("g", 11, 100)
    amount = f"(({sql.hashed('g', 13, 20000)}) / 100.0 - CASE WHEN {kind} < 3 THEN 150 ELSE 0 END)"
    event_type = (
        f"CASE WHEN {kind} < 60 THEN 'purchase' WHEN {kind} < 92 THEN 'visit' "
        f"WHEN {kind} < 97 THEN 'consent.updated' ELSE 'profile.updated' END"
    )
    purchase = sql.json("'amount', " + amount)
    visit = sql.json("'store', 'paris'")
    revoked = sql.json("'channel', 'email', 'topic', 'offers', 'status', 'revoked'")
    properties = (
        f"CASE WHEN {kind} < 60 THEN {purchase} WHEN {kind} < 92 THEN {visit} ELSE {revoked} END"
    )
    sent = sql.ago(sql.hashed("g", 17, SPAN_SECONDS))
    engaged = sql.hashed("g", 19, 100)
    journey = f"'journey_' || {sql.text(sql.hashed('g', 23, 10))}"
    return [
        (
            "member",
            members,
            "INSERT INTO member (id, locale, timezone, points, purchase_count, total_spent, "
            "attributes, joined_at, created_at, updated_at) "
            f"SELECT 'm' || {sql.text('g')}, 'en', 'UTC', 0, 0, 0, '{{}}', {when}, {when}, {when} "
            "FROM {rows}",
        ),
        (
            "event",
            events,
            "INSERT INTO event (event_id, member_id, type, occurred_at, received_at, properties, "
            f"routed) SELECT 'e' || {sql.text('g')}, {_member(sql, 'g', 5, members)}, "
            f"{event_type}, {when}, {when}, {properties}, true FROM {{rows}}",
        ),
        (
            "message",
            messages,
            "INSERT INTO message (message_id, member_id, journey_id, workflow_id, step_id, "
            "channel, template, topic, variant, status, fallback_ok, created_at, updated_at, "
            "sent_at, first_opened_at, first_clicked_at) "
            f"SELECT 'x' || {sql.text('g')}, {_member(sql, 'g', 29, members)}, {journey}, "
            f"'wf' || {sql.text('g')}, 'hello', 'email', 'hello', 'offers', "
            f"CASE WHEN {engaged} < 50 THEN 'a' ELSE 'b' END, "
            f"CASE WHEN {engaged} < 2 THEN 'bounced' ELSE 'sent' END, false, {sent}, {sent}, "
            f"{sent}, CASE WHEN {engaged} BETWEEN 2 AND 30 THEN {sql.later(sent, '3600')} END, "
            f"CASE WHEN {engaged} BETWEEN 2 AND 8 THEN {sql.later(sent, '3700')} END "
            "FROM {rows}",
        ),
        (
            "enrollment",
            messages // 2,
            "INSERT INTO enrollment (workflow_id, journey_id, journey_version, member_id, entry, "
            "entered_at, variant, converted_at) "
            f"SELECT 'wf' || {sql.text('g')}, {journey}, 'v1', {_member(sql, 'g', 29, members)}, "
            f"g, {sent}, CASE WHEN {engaged} < 50 THEN 'a' ELSE 'b' END, "
            f"CASE WHEN {engaged} < 10 THEN {sql.later(sent, '86400')} END FROM {{rows}}",
        ),
        (
            "points_ledger",
            messages,
            "INSERT INTO points_ledger (member_id, at, kind, points, lots) "
            f"SELECT {_member(sql, 'g', 31, members)}, {when}, "
            f"CASE WHEN {kind} < 80 THEN 'earned' WHEN {kind} < 95 THEN 'redeemed' "
            "ELSE 'expired' END, "
            f"CASE WHEN {kind} < 80 THEN 100 ELSE -50 END, '[]' FROM {{rows}}",
        ),
    ]


def _secondary_indexes(engine: Engine) -> list[sa.Index]:
    return [index for model in LOADED for index in table_of(model).indexes]


def load(
    engine: Engine, members: int, events: int, messages: int, say: Callable[[str], None]
) -> None:
    sql = Sql(engine.dialect.name, datetime.now(UTC))
    indexes = _secondary_indexes(engine)
    with engine.begin() as connection:
        for index in indexes:
            index.drop(connection)
    for table, count, template in statements(sql, members, events, messages):
        started = time.perf_counter()
        for low in range(1, count + 1, CHUNK):
            high = min(count, low + CHUNK - 1)
            with engine.begin() as connection:
                if sql.dialect == "postgresql":  # generated ids are valid: skip the FK triggers
                    connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
                _execute(connection, template.replace("{rows}", sql.rows(low, high)))
        say(f"{table}: {count:,} rows in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    with engine.begin() as connection:
        for index in indexes:
            index.create(connection)
        connection.exec_driver_sql("ANALYZE")
    say(f"indexes rebuilt, statistics gathered in {time.perf_counter() - started:.0f} s")


def _execute(connection: Connection, statement: str) -> None:
    connection.execute(text(statement))
