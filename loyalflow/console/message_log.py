"""The message log: filtered, newest first, one page at a time by keyset (created_at,
message_id), so a page costs the same on the millionth row as on the first."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, or_
from sqlmodel import col, select

from loyalflow.models.db import read_scope
from loyalflow.models.tables import Message

PAGE_SIZE = 50


class BadFilter(ValueError):
    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}")
        self.field = field


@dataclass(frozen=True)
class Filters:
    journey: str = ""
    step: str = ""
    channel: str = ""
    status: str = ""
    reason: str = ""  # words the reason contains
    since: date | None = None  # from this day (UTC), inclusive
    until: date | None = None  # to this day (UTC), inclusive

    def query(self) -> dict[str, str]:
        """The filters as URL parameters (for the next page's link)."""
        values = {
            "journey": self.journey,
            "step": self.step,
            "channel": self.channel,
            "status": self.status,
            "reason": self.reason,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {k: v for k, v in values.items() if v}


def parse_day(field: str, text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadFilter(field, "a date as YYYY-MM-DD") from None


def parse_cursor(text: str | None) -> tuple[datetime, str] | None:
    if not text:
        return None
    at, _, message_id = text.partition("|")
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise BadFilter("before", "a cursor from a previous page") from None
    if moment.tzinfo is None or not message_id:
        raise BadFilter("before", "a cursor from a previous page")
    return moment, message_id


def cursor_of(message: Message) -> str:
    return f"{message.created_at.isoformat()}|{message.message_id}"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def message_page(
    url: str, filters: Filters, before: tuple[datetime, str] | None
) -> tuple[list[Message], str | None]:
    """One page of messages and the cursor of the next page (None: this is the last)."""
    statement = select(Message)
    for column, value in (
        (Message.journey_id, filters.journey),
        (Message.step_id, filters.step),
        (Message.channel, filters.channel),
        (Message.status, filters.status),
    ):
        if value:
            statement = statement.where(col(column) == value)
    if filters.reason:
        pattern = f"%{_escape_like(filters.reason[:200])}%"
        statement = statement.where(col(Message.reason).ilike(pattern, escape="\\"))
    if filters.since:
        statement = statement.where(
            col(Message.created_at) >= datetime.combine(filters.since, time(), UTC)
        )
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), time(), UTC)
        statement = statement.where(col(Message.created_at) < end)
    if before:
        at, message_id = before
        statement = statement.where(
            or_(
                col(Message.created_at) < at,
                and_(col(Message.created_at) == at, col(Message.message_id) < message_id),
            )
        )
    statement = statement.order_by(
        col(Message.created_at).desc(), col(Message.message_id).desc()
    ).limit(PAGE_SIZE + 1)
    with read_scope(url) as session:
        rows = list(session.exec(statement))
    page = rows[:PAGE_SIZE]
    return page, (cursor_of(page[-1]) if len(rows) > PAGE_SIZE else None)
