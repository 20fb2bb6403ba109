"""The SELECTs a day's rollup is the UNION ALL of: each reads one source over one UTC day
[start, end) through a time index and yields (journey_id, step_id, channel, variant, figures...).

Definitions (README, "Results: the HTML report and daily rollup"):
- sends: messages handed to the provider that day (`sent_at`); bounces: those of them refused
  since (an email bounce, an SMS the carrier reported undelivered); delivered = sends - bounces.
  Both settle as bounces arrive: the schedule re-rolls the last few days;
- opens / clicks: messages a person first opened / clicked that day (machines never count; a
  click counts as an open), on the message's journey, step, channel and variant;
- unsubscribes: `consent.updated` revocations that day, blamed on the member's last message sent
  before on that channel and topic; with none, on the program row of that channel;
- entered: journey entries that day; conversions: entries whose run recorded its goal that day
  (`converted_at`, the runs' own record: a holdout, exiting at once, records none);
- purchases: `purchase` events that day with an amount >= 0 (a refund is not an order);
  revenue: the sum of their amounts, refunds subtracted;
- new members: members who joined that day (`joined_at`, else when the row was created);
- points (the KPI report's definitions): issued = earned + bonus + opening + positive
  adjustments - refunds' reversals; redeemed = spent on rewards - cancelled redemptions'
  returns; expired = expired.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement, Select

from loyalflow.models.points_tables import PointsLedger
from loyalflow.models.rollup_tables import DailyRollup, table_of
from loyalflow.models.tables import Enrollment, Event, Member, Message, MessageStatus

DIMENSIONS = ("journey_id", "step_id", "channel", "variant")
FIGURES = (
    "sends",
    "delivered",
    "bounces",
    "opens",
    "clicks",
    "unsubscribes",
    "entered",
    "conversions",
    "purchases",
    "revenue",
    "new_members",
    "points_issued",
    "points_redeemed",
    "points_expired",
)

message = table_of(Message)
event = table_of(Event)
member = table_of(Member)
enrollment = table_of(Enrollment)
ledger = table_of(PointsLedger)
rollup = table_of(DailyRollup)

NONE = sa.literal("")
BOUNCED = (MessageStatus.BOUNCED.value, MessageStatus.FAILED.value)


def _within(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return sa.and_(column >= start, column < end)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _part(dimensions: Mapping[str, Any], figures: Mapping[str, Any]) -> Select[Any]:
    """One SELECT of the union: every dimension and figure in the same order, 0 where absent."""
    columns: list[Any] = [
        sa.cast(dimensions.get(name, NONE), sa.String).label(name) for name in DIMENSIONS
    ]
    columns += [
        (figures[name] if name in figures else sa.literal(0)).label(name) for name in FIGURES
    ]
    query: Select[Any] = sa.select(*columns)
    return query.group_by(*dimensions.values()) if dimensions else query


def _variant(column: Any) -> ColumnElement[str]:
    return sa.func.coalesce(column, "")


# Every message part leaves out console test sends (`is_test`): they are not the program's.
def _per_message() -> dict[str, Any]:
    return {
        "journey_id": message.c.journey_id,
        "step_id": message.c.step_id,
        "channel": message.c.channel,
        "variant": _variant(message.c.variant),
    }


def sends(start: datetime, end: datetime) -> Select[Any]:
    bounced = message.c.status.in_(BOUNCED)
    figures = {
        "sends": sa.func.count(),
        "delivered": _count_if(~bounced),
        "bounces": _count_if(bounced),
    }
    return _part(_per_message(), figures).where(
        _within(message.c.sent_at, start, end), message.c.is_test.is_(False)
    )


def opens(start: datetime, end: datetime) -> Select[Any]:
    """On the day of the first human open, or of the first click when no open was seen (an SMS
    link, a blocked pixel)."""
    first_open = sa.or_(
        _within(message.c.first_opened_at, start, end),
        sa.and_(
            message.c.first_opened_at.is_(None), _within(message.c.first_clicked_at, start, end)
        ),
    )
    return _part(_per_message(), {"opens": sa.func.count()}).where(
        first_open, message.c.sent_at.is_not(None), message.c.is_test.is_(False)
    )


def clicks(start: datetime, end: datetime) -> Select[Any]:
    return _part(_per_message(), {"clicks": sa.func.count()}).where(
        _within(message.c.first_clicked_at, start, end),
        message.c.sent_at.is_not(None),
        message.c.is_test.is_(False),
    )


def unsubscribes(start: datetime, end: datetime) -> Select[Any]:
    """Each revocation of the day, joined to the member's last message sent before it on that
    channel and topic (a correlated LIMIT 1 through the member's messages)."""
    props = event.c.properties
    channel, topic = props["channel"].as_string(), props["topic"].as_string()
    last = sa.alias(message, "last_message")
    blamed = (
        sa.select(last.c.message_id)
        .where(
            last.c.member_id == event.c.member_id,
            last.c.channel == channel,
            last.c.topic == topic,
            last.c.sent_at.is_not(None),
            last.c.sent_at <= event.c.occurred_at,
            last.c.is_test.is_(False),
        )
        .order_by(last.c.sent_at.desc())
        .limit(1)
        .correlate(event)
        .scalar_subquery()
    )
    revocations = (
        sa.select(channel.label("channel"), blamed.label("message_id"))
        .where(
            event.c.type == "consent.updated",
            _within(event.c.occurred_at, start, end),
            props["status"].as_string() == "revoked",
        )
        .subquery("revocation")
    )
    joined = revocations.outerjoin(message, message.c.message_id == revocations.c.message_id)
    dims = {
        "journey_id": sa.func.coalesce(message.c.journey_id, ""),
        "step_id": sa.func.coalesce(message.c.step_id, ""),
        "channel": revocations.c.channel,
        "variant": _variant(message.c.variant),
    }
    return _part(dims, {"unsubscribes": sa.func.count()}).select_from(joined)


def entries(start: datetime, end: datetime) -> Select[Any]:
    dims = {"journey_id": enrollment.c.journey_id, "variant": _variant(enrollment.c.variant)}
    return _part(dims, {"entered": sa.func.count()}).where(
        _within(enrollment.c.entered_at, start, end)
    )


def conversions(start: datetime, end: datetime) -> Select[Any]:
    dims = {"journey_id": enrollment.c.journey_id, "variant": _variant(enrollment.c.variant)}
    return _part(dims, {"conversions": sa.func.count()}).where(
        _within(enrollment.c.converted_at, start, end)
    )


def purchases(start: datetime, end: datetime) -> Select[Any]:
    amount = sa.func.coalesce(event.c.properties["amount"].as_numeric(20, 2), 0)
    figures = {
        "purchases": _count_if(amount >= 0),
        "revenue": sa.func.coalesce(sa.func.sum(amount), 0),
    }
    return _part({}, figures).where(
        event.c.type == "purchase", _within(event.c.occurred_at, start, end)
    )


def new_members(start: datetime, end: datetime) -> Select[Any]:
    joined = sa.or_(
        _within(member.c.joined_at, start, end),
        sa.and_(member.c.joined_at.is_(None), _within(member.c.created_at, start, end)),
    )
    return _part({}, {"new_members": sa.func.count()}).where(joined)


def points(start: datetime, end: datetime) -> Select[Any]:
    kind, amount = ledger.c.kind, ledger.c.points

    def total(condition: ColumnElement[bool], sign: int) -> ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, amount * sign), else_=0)), 0)

    figures = {
        "points_issued": total(
            sa.or_(
                kind.in_(("earned", "bonus", "opening")),
                sa.and_(kind == "adjusted", amount > 0),
                sa.and_(kind == "reversed", amount < 0),
            ),
            1,
        ),
        "points_redeemed": total(
            sa.or_(kind == "redeemed", sa.and_(kind == "reversed", amount > 0)), -1
        ),
        "points_expired": total(kind == "expired", -1),
    }
    return _part({}, figures).where(_within(ledger.c.at, start, end))


def every_part(start: datetime, end: datetime) -> list[Select[Any]]:
    return [
        sends(start, end),
        opens(start, end),
        clicks(start, end),
        unsubscribes(start, end),
        entries(start, end),
        conversions(start, end),
        purchases(start, end),
        new_members(start, end),
        points(start, end),
    ]
