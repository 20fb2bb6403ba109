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

from sqlalchemy import and_, exists, or_
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

_CONSENT = aliased(Event)
_LATER = aliased(Message)
_NO_LATER_MESSAGE = ~exists().where(
    col(_LATER.member_id) == col(Message.member_id),
    col(_LATER.channel) == col(Message.channel),
    col(_LATER.topic) == col(Message.topic),
    col(_LATER.sent_at) > col(Message.sent_at),
    col(_LATER.sent_at) <= col(_CONSENT.occurred_at),
).correlate(Message, _CONSENT)
UNSUBSCRIBED: ColumnElement[bool] = and_(
    SENT,
    exists()
    .where(
        col(_CONSENT.member_id) == col(Message.member_id),
        col(_CONSENT.type) == "consent.updated",
        col(_CONSENT.occurred_at) >= col(Message.sent_at),
        _CONSENT.properties["status"].as_string() == "revoked",
        _CONSENT.properties["channel"].as_string() == col(Message.channel),
        _CONSENT.properties["topic"].as_string() == col(Message.topic),
        _NO_LATER_MESSAGE,
    )
    .correlate(Message),
)
