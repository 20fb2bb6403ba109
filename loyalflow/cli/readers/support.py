"""`runs ambiguous`, `users list` and `engagement` in plain SQL: the queries of
support/runs.py's `ambiguous_sends`, console/accounts.py's `list_users` and
analytics/engagement.py's `engagement_report` (and send_measures.py's definitions), with the
same shapes; tests/cli/test_readers.py checks each answers like the ORM code."""

from typing import cast

from loyalflow.analytics.engagement_row import EngagementRow
from loyalflow.cli.readers.connection import read_database, utc
from loyalflow.console.user import Role, User
from loyalflow.models.support_view import AmbiguousSend

# send_measures.py: SENT, OPENED (a click counts as an open), CLICKED and BOUNCED.
SENT = "m.sent_at IS NOT NULL"
OPENED = f"{SENT} AND (m.first_opened_at IS NOT NULL OR m.first_clicked_at IS NOT NULL)"
CLICKED = f"{SENT} AND m.first_clicked_at IS NOT NULL"
BOUNCED = f"{SENT} AND m.status IN ('bounced', 'failed')"
MACHINE_OPEN = "NOT h.human AND h.kind = 'open'"
MACHINE_CLICK = "NOT h.human AND h.kind IN ('click', 'sms_click')"


def _unique(condition: str) -> str:
    """Messages (not hits) meeting the condition: a member opening five times is one open."""
    return f"COUNT(DISTINCT CASE WHEN {condition} THEN m.message_id END)"


def read_ambiguous_sends(url: str, limit: int = 200) -> list[AmbiguousSend]:
    """Newest first: what support may want to check with the recipient or re-send."""
    with read_database(url) as db:
        found = db.rows(
            "SELECT message_id, member_id, journey_id, step_id, channel, status, "
            "interrupted_at, reason FROM message WHERE interrupted_at IS NOT NULL "
            "ORDER BY interrupted_at DESC LIMIT ?",
            limit,
        )
    return [
        AmbiguousSend(
            message_id=message_id,
            member_id=member_id,
            journey_id=journey_id,
            step_id=step_id,
            channel=channel,
            status=status,
            handed_at=utc(interrupted_at),
            reason=reason,
        )
        for message_id, member_id, journey_id, step_id, channel, status, interrupted_at, reason in (
            found
        )
    ]


def read_users(url: str) -> list[User]:
    with read_database(url) as db:
        found = db.rows(
            "SELECT id, name, role, locale, disabled_at FROM console_user ORDER BY name"
        )
    return [
        User(id, name, cast(Role, role), locale, disabled_at is not None)
        for id, name, role, locale, disabled_at in found
    ]


def read_engagement(url: str, journey_id: str | None = None) -> list[EngagementRow]:
    measures = ", ".join(
        _unique(c) for c in (SENT, OPENED, CLICKED, MACHINE_OPEN, MACHINE_CLICK, BOUNCED)
    )
    only_journey = " AND m.journey_id = ?" if journey_id is not None else ""
    params = (False,) if journey_id is None else (False, journey_id)
    with read_database(url) as db:
        found = db.rows(
            f"SELECT m.journey_id, m.step_id, {measures} FROM message m "
            "LEFT OUTER JOIN engagement_hit h ON h.message_id = m.message_id "
            f"WHERE m.is_test = ?{only_journey} "  # console test sends are not the program's
            "GROUP BY m.journey_id, m.step_id ORDER BY m.journey_id, m.step_id",
            *params,
        )
    return [EngagementRow(*row) for row in found]
