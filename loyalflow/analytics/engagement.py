"""Engagement per journey and step (`loyalflow engagement`): sent, unique human opens and clicks,
machines apart, bounces.

One SQL aggregate over the ledger and `engagement_hit` (never row by row). People's figures use
the journey funnel's definitions (`send_measures`); "unique" counts messages: a member who opens
a message five times is one open. Machine figures count messages machines opened or whose links
they followed (Apple Mail Privacy Protection, link scanners), people or not.
"""

from sqlalchemy import ColumnElement, and_, case, func
from sqlmodel import col, select

from loyalflow.analytics.engagement_row import EngagementRow
from loyalflow.analytics.send_measures import BOUNCED, CLICKED, OPENED, SENT
from loyalflow.models.db import read_scope
from loyalflow.models.tables import Message
from loyalflow.models.tracking_tables import EngagementHit


def engagement_report(url: str, journey_id: str | None = None) -> list[EngagementRow]:
    hit = EngagementHit
    message_id = col(Message.message_id)

    def unique(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count(func.distinct(case((condition, message_id))))

    is_click = col(hit.kind).in_(("click", "sms_click"))
    machine_open = and_(~col(hit.human), col(hit.kind) == "open")
    machine_click = and_(~col(hit.human), is_click)
    query = (
        select(  # type: ignore[call-overload]
            Message.journey_id,
            Message.step_id,
            unique(SENT),
            unique(OPENED),
            unique(CLICKED),
            unique(machine_open),
            unique(machine_click),
            unique(BOUNCED),
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
