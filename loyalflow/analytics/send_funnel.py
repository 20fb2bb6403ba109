"""Send steps in a journey's funnel: per version, step and channel, what was sent, delivered,
opened, clicked, unsubscribed from, and what was not sent and why: one GROUP BY over the
cohort's messages, one over the unsubscribes blamed on them (definitions: `send_measures.py`)."""

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from loyalflow.analytics.cohort import Cohort, count_where
from loyalflow.analytics.send_measures import (
    BOUNCED,
    CLICKED,
    FELL_BACK,
    OPENED,
    SENT,
    blamed_for_unsubscribes,
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
    # Messages not sent keep their status and reason (what the report lists); sent ones are
    # grouped together. One pass over the cohort's messages, one probe per entry.
    status = case((~SENT, col(Message.status)))
    reason = case((~SENT, col(Message.reason)))
    measures = (SENT, BOUNCED, OPENED, CLICKED, FELL_BACK)
    counts: dict[SendKey, SendCounts] = defaultdict(SendCounts)
    for version, step, channel, state, why, total, *figures in session.execute(
        select(*keys, status, reason, func.count(), *(count_where(m) for m in measures))
        .join(Enrollment, col(Enrollment.workflow_id) == col(Message.workflow_id))
        .where(cohort.where())
        .group_by(*keys, status, reason)
    ):
        row = counts[(version, step, channel)]
        sent, bounced, opened, clicked, fell_back = (int(f) for f in figures)
        row.sent += sent
        row.bounced += bounced
        row.opened += opened
        row.clicked += clicked
        row.fell_back += fell_back
        if state is not None and total > fell_back:
            row.not_sent[not_sent_label(state, why)] += total - fell_back
    # Unsubscribes start from the revocations (few), not from the cohort's messages.
    blamed = blamed_for_unsubscribes(cohort.period.start)
    for version, step, channel, count in session.execute(
        select(*keys, func.count())
        .join(Enrollment, col(Enrollment.workflow_id) == col(Message.workflow_id))
        .where(cohort.where(), col(Message.message_id).in_(blamed))
        .group_by(*keys)
    ):
        counts[(version, step, channel)].unsubscribed = count
    return dict(counts)
