"""Send steps in a journey's funnel: per version, step and channel, what was sent, delivered,
opened, clicked, unsubscribed from, and what was not sent and why. Two GROUP BYs over the
cohort's messages (definitions: `send_measures.py`)."""

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from loyalflow.analytics.cohort import Cohort
from loyalflow.analytics.send_measures import (
    BOUNCED,
    CLICKED,
    FELL_BACK,
    OPENED,
    SENT,
    UNSUBSCRIBED,
)
from loyalflow.models.tables import Enrollment, Message

# Reasons name times ("quiet hours until 2026-12-04 08:00 UTC"): grouped without them.
_TIMES = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?: UTC)?")
_IN_FLIGHT = {"ready": "being sent", "sending": "being sent", "deferred": "deferred (will retry)"}


@dataclass
class SendCounts:
    sent: int = 0
    bounced: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    fell_back: int = 0
    not_sent: Counter[str] = field(default_factory=Counter)


SendKey = tuple[str, str, str]  # version, step, channel


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def not_sent_label(status: str, reason: str | None) -> str:
    if status in _IN_FLIGHT:
        return _IN_FLIGHT[status]
    text = _TIMES.sub("…", reason) if reason else "(no reason given)"
    return f"{status}: {text}"


def send_counts(session: Session, cohort: Cohort) -> dict[SendKey, SendCounts]:
    keys = (
        col(Enrollment.journey_version),
        col(Message.step_id),
        col(Message.channel),
    )
    joined = select(*keys).join(Enrollment, col(Enrollment.workflow_id) == col(Message.workflow_id))
    counts: dict[SendKey, SendCounts] = defaultdict(SendCounts)
    measures = (SENT, BOUNCED, OPENED, CLICKED, UNSUBSCRIBED, FELL_BACK)
    for version, step, channel, *figures in session.execute(
        joined.add_columns(*(_count(m) for m in measures)).where(cohort.where()).group_by(*keys)
    ):
        row = counts[(version, step, channel)]
        (row.sent, row.bounced, row.opened, row.clicked, row.unsubscribed, row.fell_back) = (
            int(f) for f in figures
        )
    status, reason = col(Message.status), col(Message.reason)
    for version, step, channel, state, why, count in session.execute(
        joined.add_columns(status, reason, func.count())
        .where(cohort.where(), ~SENT, ~FELL_BACK)
        .group_by(*keys, status, reason)
    ):
        counts[(version, step, channel)].not_sent[not_sent_label(state, why)] += count
    return dict(counts)
