"""The program bench/report_funnel.py measures, generated inside the database with SQL (no row
goes through Python): members, background events (purchases, visits), and the built-in
`welcome` journey run for every member: enrollments, step rows, A/B assignments, messages with
opens, clicks, bounces and SMS fallbacks, goal purchases and a few unsubscribes; plus messages
of other journeys up to the requested total.

PostgreSQL: `INSERT ... SELECT ... FROM generate_series`; SQLite: the same from a recursive CTE.
The event table's secondary indexes are dropped during the load and rebuilt after it.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, inspect, text

from loyalflow.models.db import get_engine
from loyalflow.models.journey import Journey

TWO_YEARS = 730 * 86400
THREE_DAYS = 3 * 86400
CHUNK = 2_000_000


class Sql:
    """What the two databases spell differently."""

    def __init__(self, dialect: str, now: datetime) -> None:
        self.pg = dialect == "postgresql"
        self.now = int(now.timestamp())

    def series(self, low: int, high: int) -> str:
        if self.pg:
            return f"(SELECT g FROM generate_series({low}, {high}) AS g) AS series"
        return (
            f"(WITH RECURSIVE s(g) AS (SELECT {low} UNION ALL SELECT g + 1 FROM s WHERE g < "
            f"{high}) SELECT g FROM s) AS series"
        )

    def rand(self) -> str:
        return "random()" if self.pg else "((random() & 9007199254740991) / 9007199254740992.0)"

    def ago(self, seconds: str) -> str:
        """now - seconds, as each database stores loyalflow's timestamps."""
        if self.pg:
            return f"(to_timestamp({self.now}) - make_interval(secs => ({seconds})))"
        return (
            f"(strftime('%Y-%m-%d %H:%M:%S', {self.now} - CAST(({seconds}) AS INTEGER), "
            "'unixepoch') || '.000000')"
        )

    def integer(self, value: str) -> str:
        return f"CAST(floor({value}) AS INTEGER)" if self.pg else f"CAST({value} AS INTEGER)"

    def json(self, pairs: str) -> str:
        return f"json_build_object({pairs})" if self.pg else f"json_object({pairs})"

    def empty_json(self) -> str:
        return "'{}'::json" if self.pg else "'{}'"

    def boolean(self, value: bool) -> str:
        return ("true" if value else "false") if self.pg else ("1" if value else "0")


def joined_offset(member: str) -> str:
    """Seconds between member g's joining and now (two years, spread evenly)."""
    return f"(({member} * 2654435761) % {TWO_YEARS})"


def generate(
    url: str,
    journey: Journey,
    members: int,
    events: int,
    messages: int,
    log: Callable[[str], None] = print,
) -> None:
    engine = get_engine(url)
    sql = Sql(engine.dialect.name, datetime.now(UTC))
    dropped = _drop_event_indexes(engine)
    started = time.monotonic()

    def step(label: str, statements: list[str]) -> None:
        begun = time.monotonic()
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
        log(f"  {label}: {time.monotonic() - begun:.1f} s")

    step("members", [_members(sql, members)])
    step("welcome runs", _welcome(sql, journey, members))
    welcome_messages = _welcome_message_count(members)
    background = max(0, events - _welcome_event_count(members))
    for low in range(1, background + 1, CHUNK):
        high = min(background, low + CHUNK - 1)
        step(f"events {low:,}..{high:,}", [_events(sql, members, low, high)])
    others = max(0, messages - welcome_messages)
    for low in range(1, others + 1, CHUNK):
        high = min(others, low + CHUNK - 1)
        step(f"other messages {low:,}..{high:,}", [_other_messages(sql, members, low, high)])
    begun = time.monotonic()
    with engine.begin() as connection:
        for name, columns in dropped:
            connection.execute(text(f"CREATE INDEX {name} ON event ({', '.join(columns)})"))
    log(f"  event indexes: {time.monotonic() - begun:.1f} s")
    if sql.pg:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        step("analyze", ["ANALYZE"])
    log(f"  generated in {time.monotonic() - started:.0f} s")


def _welcome_message_count(members: int) -> int:
    # welcome_email for all; reminder for completed runs: sms (1 in 4), else sms skipped + email.
    return members + members * 7 // 4


def _welcome_event_count(members: int) -> int:
    return members + members // 7 + members // 50  # joins, goal purchases, unsubscribes


def _drop_event_indexes(engine: Engine) -> list[tuple[str, list[str]]]:
    found = [
        (str(index["name"]), [str(c) for c in index["column_names"]])
        for index in inspect(engine).get_indexes("event")
        if not index.get("unique")
    ]
    with engine.begin() as connection:
        for name, _ in found:
            connection.execute(text(f"DROP INDEX {name}"))
    return found


def _members(sql: Sql, members: int) -> str:
    joined = sql.ago(joined_offset("g"))
    return f"""
        INSERT INTO member (id, email, locale, timezone, points, joined_at, purchase_count,
                            total_spent, attributes, created_at, updated_at)
        SELECT 'm' || g, 'm' || g || '@example.com', 'en', 'UTC', 0, {joined}, 0, 0,
               {sql.empty_json()}, {joined}, {joined}
        FROM {sql.series(1, members)}"""


def _welcome(sql: Sql, journey: Journey, members: int) -> list[str]:
    """Every member joined and entered `welcome` a minute later; runs older than three days
    are over (1 in 5 ended by a purchase), younger ones wait in `wait_3_days`."""
    series = sql.series(1, members)
    entered_s = f"({joined_offset('g')} - 60)"
    entered = sql.ago(entered_s)
    done = f"{entered_s} > {THREE_DAYS}"
    ended = sql.ago(f"{entered_s} - {THREE_DAYS}")
    workflow = "'journey-welcome-m' || g"
    t = sql.boolean(True)
    f = sql.boolean(False)
    return [
        f"""INSERT INTO event (event_id, member_id, type, occurred_at, received_at, properties,
                               routed)
            SELECT 'j' || g, 'm' || g, 'member.joined', {sql.ago(joined_offset("g"))},
                   {sql.ago(joined_offset("g"))}, {sql.empty_json()}, {t}
            FROM {series}""",
        f"""INSERT INTO enrollment (workflow_id, journey_id, journey_version, member_id, entry,
                                    entered_at, current_step, exited_at, exit_reason, variant)
            SELECT {workflow}, 'welcome', '{journey.version}', 'm' || g, 1, {entered},
                   CASE WHEN {done} THEN 'benefits_reminder' ELSE 'wait_3_days' END,
                   CASE WHEN {done} THEN {ended} END,
                   CASE WHEN {done} THEN CASE WHEN g % 5 = 0 THEN 'exit_when: purchase'
                                              ELSE 'completed' END END,
                   CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END
            FROM {series}""",
        f"""INSERT INTO experiment_assignment (experiment, member_id, variant, at)
            SELECT 'welcome.subject_line', 'm' || g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END,
                   {entered}
            FROM {series}""",
        f"""INSERT INTO journey_step (workflow_id, member_id, journey_id, step_id, at)
            SELECT {workflow}, 'm' || g, 'welcome', s.step_id, {entered}
            FROM {series} CROSS JOIN (SELECT 'subject_line_test' AS step_id
                                      UNION ALL SELECT 'welcome_email'
                                      UNION ALL SELECT 'wait_3_days') AS s""",
        f"""INSERT INTO journey_step (workflow_id, member_id, journey_id, step_id, at)
            SELECT {workflow}, 'm' || g, 'welcome', 'benefits_reminder', {ended}
            FROM {series} WHERE {done}""",
        # The welcome email: 1 in 20 bounced, 1 in 3 opened, 1 in 10 clicked (a bit more for b).
        f"""INSERT INTO message (message_id, member_id, journey_id, workflow_id, step_id, channel,
                                 template, topic, variant, status, fallback_ok, created_at,
                                 updated_at, sent_at, first_opened_at, first_clicked_at)
            SELECT 'w1-' || g, 'm' || g, 'welcome', {workflow}, 'welcome_email', 'email',
                   'welcome', 'onboarding', CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END,
                   CASE WHEN g % 20 = 0 THEN 'bounced' ELSE 'sent' END, {f},
                   {entered}, {entered}, {entered},
                   CASE WHEN g % 3 = 0 THEN {entered} END,
                   CASE WHEN g % 10 = 0 OR (g % 2 = 1 AND g % 13 = 0) THEN {entered} END
            FROM {series}""",
        f"""INSERT INTO message (message_id, member_id, journey_id, workflow_id, step_id, channel,
                                 template, topic, status, reason, fallback_ok, created_at,
                                 updated_at, sent_at)
            SELECT 'w2-' || g, 'm' || g, 'welcome', {workflow}, 'benefits_reminder', 'sms',
                   'welcome_reminder', 'onboarding',
                   CASE WHEN g % 4 = 0 THEN 'sent' ELSE 'skipped' END,
                   CASE WHEN g % 4 = 0 THEN NULL ELSE 'no consent for sms/onboarding' END,
                   CASE WHEN g % 4 = 0 THEN {f} ELSE {t} END, {ended}, {ended},
                   CASE WHEN g % 4 = 0 THEN {ended} END
            FROM {series} WHERE {done}""",
        f"""INSERT INTO message (message_id, member_id, journey_id, workflow_id, step_id, channel,
                                 template, topic, status, fallback_ok, created_at, updated_at,
                                 sent_at)
            SELECT 'w3-' || g, 'm' || g, 'welcome', {workflow}, 'benefits_reminder', 'email',
                   'welcome_reminder', 'onboarding', 'sent', {f}, {ended}, {ended}, {ended}
            FROM {series} WHERE {done} AND g % 4 <> 0""",
        # Goal purchases: 1 in 7 members buys within 5 days of entering.
        f"""INSERT INTO event (event_id, member_id, type, occurred_at, received_at, properties,
                               routed)
            SELECT 'gp' || g, 'm' || g, 'purchase', {sql.ago(f"{entered_s} - 4 * 86400")},
                   {sql.ago(f"{entered_s} - 4 * 86400")}, {sql.json("'amount', 42.5")}, {t}
            FROM {sql.series(1, members // 7)}""",
        # Unsubscribes: 1 in 50 members, a day after the welcome email.
        f"""INSERT INTO event (event_id, member_id, type, occurred_at, received_at, properties,
                               routed)
            SELECT 'un' || g, 'm' || g, 'consent.updated', {sql.ago(f"{entered_s} - 86400")},
                   {sql.ago(f"{entered_s} - 86400")},
                   {sql.json("'channel', 'email', 'topic', 'onboarding', 'status', 'revoked'")}, {t}
            FROM {sql.series(1, members // 50)}""",
    ]


def _events(sql: Sql, members: int, low: int, high: int) -> str:
    """Background purchases (2 in 5) and visits at random times of the two years."""
    at = sql.ago(f"{sql.rand()} * {TWO_YEARS}")
    return f"""
        INSERT INTO event (event_id, member_id, type, occurred_at, received_at, properties, routed)
        SELECT 'e' || g, 'm' || (1 + {sql.integer(f"{members} * {sql.rand()}")}),
               CASE WHEN g % 5 < 2 THEN 'purchase' ELSE 'visit' END, {at}, {at},
               CASE WHEN g % 5 < 2 THEN {sql.json("'amount', 10 + g % 90")}
                    ELSE {sql.empty_json()} END, {sql.boolean(True)}
        FROM {sql.series(low, high)}"""


def _other_messages(sql: Sql, members: int, low: int, high: int) -> str:
    at = sql.ago(f"{sql.rand()} * {TWO_YEARS}")
    return f"""
        INSERT INTO message (message_id, member_id, journey_id, workflow_id, step_id, channel,
                             template, topic, status, fallback_ok, created_at, updated_at, sent_at)
        SELECT 'o' || g, 'm' || mi, j, 'journey-' || j || '-m' || mi, 'send_1', 'email', j,
               'loyalty', 'sent', {sql.boolean(False)}, {at}, {at}, {at}
        FROM (SELECT g, 1 + {sql.integer(f"{members} * {sql.rand()}")} AS mi,
                     CASE g % 3 WHEN 0 THEN 'first_purchase' WHEN 1 THEN 'reactivation'
                                ELSE 'tier_upgrade' END AS j
              FROM {sql.series(low, high)}) AS chosen"""
