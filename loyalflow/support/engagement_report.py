"""Engagement per journey and step: sent, unique human opens and clicks, machines apart.

One SQL aggregate over the ledger and `engagement_hit` (never row by row). "Unique" counts
messages: a member who opens a message five times is one open. A human click counts as an
open too, as in the member's events.
"""

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, func, or_
from sqlmodel import col, select

from loyalflow.models.db import read_scope
from loyalflow.models.tables import EngagementHit, Message, MessageStatus


@dataclass(frozen=True)
class EngagementRow:
    journey_id: str
    step_id: str
    sent: int
    human_opens: int
    human_clicks: int
    machine_opens: int  # messages opened by machines (Apple MPP, scanners), people or not
    machine_clicks: int  # messages whose links machines followed
    bounced: int


def engagement_report(url: str, journey_id: str | None = None) -> list[EngagementRow]:
    hit = EngagementHit
    message_id = col(Message.message_id)

    def unique(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count(func.distinct(case((condition, message_id))))

    is_click = col(hit.kind).in_(("click", "sms_click"))
    human_open = and_(col(hit.human), or_(col(hit.kind) == "open", is_click))
    human_click = and_(col(hit.human), is_click)
    machine_open = and_(~col(hit.human), col(hit.kind) == "open")
    machine_click = and_(~col(hit.human), is_click)
    delivered = col(Message.status).in_(
        (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.BOUNCED)
    )
    query = (
        select(  # type: ignore[call-overload]
            Message.journey_id,
            Message.step_id,
            unique(delivered),
            unique(human_open),
            unique(human_click),
            unique(machine_open),
            unique(machine_click),
            unique(col(Message.status) == MessageStatus.BOUNCED),
        )
        .select_from(Message)
        .join(hit, col(hit.message_id) == message_id, isouter=True)
        .where(col(Message.is_test).is_(False))  # console test sends are not the program's
        .group_by(Message.journey_id, Message.step_id)
        .order_by(Message.journey_id, Message.step_id)
    )
    if journey_id is not None:
        query = query.where(Message.journey_id == journey_id)
    with read_scope(url) as session:
        return [EngagementRow(*row) for row in session.exec(query)]
