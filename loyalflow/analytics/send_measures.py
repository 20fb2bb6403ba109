"""What became of a message, as SQL expressions over the `message` ledger row (correlated).

Shared by the journey funnel and `loyalflow engagement`, so both read the same definitions:
- sent: handed to the provider and accepted (`sent_at` is set);
- bounced: refused after that (an email bounce; an SMS the carrier reported undelivered);
- opened / clicked: a person opened / clicked it (machines never set these columns; a click
  counts as an open, the pixel may have been blocked);
- fell back: not sent on this channel, and the step sent on its other channel instead;
- unsubscribed: the member revoked consent for its channel and topic after it was sent, with no
  later message on that channel and topic in between (the last message gets the blame).
"""

from datetime import UTC, datetime

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from loyalflow.models.tables import Event, Message, MessageStatus

SENT: ColumnElement[bool] = col(Message.sent_at).is_not(None)
BOUNCED: ColumnElement[bool] = and_(
    SENT, col(Message.status).in_((MessageStatus.BOUNCED, MessageStatus.FAILED))
)
OPENED: ColumnElement[bool] = and_(
    SENT, or_(col(Message.first_opened_at).is_not(None), col(Message.first_clicked_at).is_not(None))
)
CLICKED: ColumnElement[bool] = and_(SENT, col(Message.first_clicked_at).is_not(None))

_OTHER = aliased(Message)
FELL_BACK: ColumnElement[bool] = and_(
    ~SENT,
    exists()
    .where(
        col(_OTHER.workflow_id) == col(Message.workflow_id),
        col(_OTHER.step_id) == col(Message.step_id),
        col(_OTHER.channel) != col(Message.channel),
        col(_OTHER.sent_at).is_not(None),
    )
    .correlate(Message),
)


_EARLIEST = datetime(
    1, 1, 2, tzinfo=UTC
)  # before any event; a day after year 1 leaves room for time zones


def blamed_for_unsubscribes(since: datetime | None) -> Select[str]:
    """The ids of the messages that got the blame for an unsubscribe: for each revocation of
    consent (from `since`), the member's last message sent before it on that channel and topic.
    Meant for `message_id IN (...)`: the database starts from the revocations (few) rather than
    testing every message (as a DISTINCT subquery, SQLite scanned every message instead)."""
    consent, blamed, later = aliased(Event), aliased(Message), aliased(Message)
    channel = consent.properties["channel"].as_string()
    topic = consent.properties["topic"].as_string()
    query = (
        select(col(blamed.message_id))
        .select_from(consent)
        .join(
            blamed,
            and_(
                col(blamed.member_id) == col(consent.member_id),
                col(blamed.channel) == channel,
                col(blamed.topic) == topic,
                col(blamed.sent_at) <= col(consent.occurred_at),
                col(blamed.is_test).is_(False),  # a console test send is not the program's
            ),
        )
        .where(
            col(consent.type) == "consent.updated",
            consent.properties["status"].as_string() == "revoked",
            ~exists().where(
                col(later.member_id) == col(blamed.member_id),
                col(later.channel) == col(blamed.channel),
                col(later.topic) == col(blamed.topic),
                col(later.sent_at) > col(blamed.sent_at),
                col(later.sent_at) <= col(consent.occurred_at),
                col(later.is_test).is_(False),
            ),
        )
    )
    # Always a range on the revocations' time (from the earliest time when there is no start):
    # without one, SQLite scanned every message and probed the events per message instead.
    return query.where(col(consent.occurred_at) >= (since or _EARLIEST))
