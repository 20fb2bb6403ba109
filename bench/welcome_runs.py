"""The built-in `welcome` journey run for every member of a generated program, in SQL (no row
goes through Python): enrollments, step rows, A/B assignments, the welcome email (opens, clicks,
bounces), the reminder (SMS, or an email when SMS consent is missing: a fallback), goal purchases
and a few unsubscribes. `report_data.generate_program` runs it after the members and their joins.
"""

from datetime import datetime

from loyalflow.models.journey import Journey

TWO_YEARS = 730 * 86400
THREE_DAYS = 3 * 86400


class WelcomeSql:
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

    def ago(self, seconds: str) -> str:
        """now - seconds, as each database stores loyalflow's timestamps."""
        if self.pg:
            return f"(to_timestamp({self.now}) - make_interval(secs => ({seconds})))"
        return (
            f"(strftime('%Y-%m-%d %H:%M:%S', {self.now} - CAST(({seconds}) AS INTEGER), "
            "'unixepoch') || '.000000')"
        )

    def ago_not_future(self, seconds: str) -> str:
        """now - seconds, or now when that is still to come: history ends at `now`."""
        return self.ago(f"CASE WHEN ({seconds}) > 0 THEN ({seconds}) ELSE 0 END")

    def json(self, pairs: str) -> str:
        return f"json_build_object({pairs})" if self.pg else f"json_object({pairs})"

    def boolean(self, value: bool) -> str:
        return ("true" if value else "false") if self.pg else ("1" if value else "0")


def joined_offset(member: str) -> str:
    """Seconds between member g's joining and now: `report_data.Sql.joined_offset`'s formula."""
    return f"(({member} * 2654435761) % {TWO_YEARS})"


def welcome_message_count(members: int) -> int:
    # welcome_email for all; reminder for completed runs: sms (1 in 4), else sms skipped + email.
    return members + members * 7 // 4


def welcome_event_count(members: int) -> int:
    return members // 7 + members // 50  # goal purchases, unsubscribes


def welcome_runs(sql: WelcomeSql, journey: Journey, members: int) -> list[str]:
    """Every member entered `welcome` a minute after joining; runs older than three days
    are over (1 in 5 ended by a purchase), younger ones wait in `wait_3_days`."""
    series = sql.series(1, members)
    entered_s = f"({joined_offset('g')} - 60)"
    entered = sql.ago(entered_s)
    done = f"{entered_s} > {THREE_DAYS}"
    ended = sql.ago(f"{entered_s} - {THREE_DAYS}")
    purchased = sql.ago_not_future(f"{entered_s} - 4 * 86400")
    unsubscribed = sql.ago_not_future(f"{entered_s} - 86400")
    workflow = "'journey-welcome-m' || g"
    t = sql.boolean(True)
    f = sql.boolean(False)
    return [
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
        # Goal purchases: 1 in 7 members buys 4 days after entering (members who entered less
        # than 4 days ago, now).
        f"""INSERT INTO event (event_id, member_id, type, occurred_at, received_at, properties,
                               routed)
            SELECT 'gp' || g, 'm' || g, 'purchase', {purchased},
                   {purchased}, {sql.json("'amount', 42.5")}, {t}
            FROM {sql.series(1, members // 7)}""",
        # Unsubscribes: 1 in 50 members, a day after the welcome email (or now).
        f"""INSERT INTO event (event_id, member_id, type, occurred_at, received_at, properties,
                               routed)
            SELECT 'un' || g, 'm' || g, 'consent.updated', {unsubscribed},
                   {unsubscribed},
                   {sql.json("'channel', 'email', 'topic', 'onboarding', 'status', 'revoked'")}, {t}
            FROM {sql.series(1, members // 50)}""",
    ]
