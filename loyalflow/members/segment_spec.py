"""Segment's tracking spec (identify, track, page, screen) into loyalflow events.

The mapping, also in the README ("Events from your analytics library"):
- identify -> `profile.updated` (email, phone, firstName/first_name, locale and timezone from
  the context; other traits -> attributes);
- track "Signed Up" -> `member.joined`; "Order Completed" -> `purchase` (amount from revenue,
  else total); "Order Refunded" -> a refund (a purchase of minus the amount); any other track ->
  the custom type its name gives under the name rule ("Review Posted" -> review.posted);
- page / screen -> `visit`.
`messageId` is the event id; `timestamp`, corrected by `sentAt` against the receive time, is
`occurred_at`. Nothing here touches the database.
"""

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from loyalflow.catalog.event_types import EventTypes
from loyalflow.models.api import MEMBER_ID_PATTERN, EventIn, MemberIn

NameRule = Literal["object_action", "dotted", "snake", "exact"]
MAX_EVENT_BYTES = 32 * 1024
KINDS = ("identify", "track", "page", "screen")
# A stand-in member id to validate an anonymous event; replaced when the visitor is known.
ANONYMOUS_MEMBER = "anonymous"
_SPECIAL_TRACKS = {
    "Signed Up": "member.joined",
    "Order Completed": "purchase",
    "Order Refunded": "purchase",
}
_PROFILE_TRAITS = {"email": "email", "phone": "phone", "firstName": "first_name"}
_PROFILE_TRAITS["first_name"] = "first_name"
_WORD = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class SegmentProblem:
    index: int
    message_id: str | None
    field: str
    message: str


@dataclass(frozen=True)
class MappedMessage:
    index: int
    user_id: str | None
    anonymous_id: str | None
    event: EventIn  # member_id is ANONYMOUS_MEMBER until the visitor is known


class _Refused(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def event_type_for(name: str, rule: NameRule) -> str:
    """ "Cart Item Added" -> cart_item.added (object_action), cart.item.added (dotted),
    cart_item_added (snake), or the name itself (exact)."""
    if rule == "exact":
        return name
    words = [word.lower() for word in _WORD.findall(name)]
    if rule == "dotted":
        return ".".join(words)
    if rule == "snake" or len(words) < 2:
        return "_".join(words)
    return f"{'_'.join(words[:-1])}.{words[-1]}"


def map_message(
    index: int,
    raw: object,
    *,
    kind: str | None,
    received_at: datetime,
    batch_sent_at: object,
    rule: NameRule,
    event_types: EventTypes,
) -> MappedMessage | SegmentProblem:
    """One message of a call (`kind` given by the endpoint) or of a batch (its `type`)."""
    message_id = raw.get("messageId") if isinstance(raw, dict) else None
    shown_id = message_id if isinstance(message_id, str) else None
    try:
        if not isinstance(raw, dict):
            raise _Refused("(message)", "must be a JSON object")
        if len(json.dumps(raw, default=str).encode()) > MAX_EVENT_BYTES:
            raise _Refused(
                "(message)", f"is over {MAX_EVENT_BYTES // 1024} KB, the limit per event"
            )
        mapped = _map(index, raw, kind or raw.get("type"), received_at, batch_sent_at, rule)
        for problem in event_types.check(mapped.event.type, mapped.event.properties):
            field = "event" if problem.field == "type" else problem.field
            raise _Refused(field, problem.message)
        return mapped
    except _Refused as refused:
        return SegmentProblem(index, shown_id, refused.field, refused.message)


def _map(
    index: int,
    raw: dict[str, Any],
    kind: object,
    received_at: datetime,
    batch_sent_at: object,
    rule: NameRule,
) -> MappedMessage:
    if kind not in KINDS:
        raise _Refused("type", f"must be one of {', '.join(KINDS)}, not {kind!r}")
    user_id = _identity(raw, "userId")
    anonymous_id = _identity(raw, "anonymousId")
    if user_id is None and anonymous_id is None:
        raise _Refused("userId", "a message needs a userId or an anonymousId")
    if user_id is not None and not re.fullmatch(MEMBER_ID_PATTERN, user_id):
        raise _Refused("userId", "must be 1-128 letters, digits or ._:@- (a member id)")
    message_id = raw.get("messageId")
    if message_id is None:
        message_id = f"generated-{uuid.uuid4()}"  # as Segment does; not idempotent then
    if not isinstance(message_id, str) or not 1 <= len(message_id) <= 128:
        raise _Refused("messageId", "must be text of 1 to 128 characters")
    context = _object(raw, "context")
    properties = _object(raw, "properties")
    if kind == "identify":
        event_type, properties = "profile.updated", _profile(_object(raw, "traits"), context)
    elif kind == "track":
        event_type, properties = _track(raw.get("event"), properties, rule)
    else:
        channel = "web" if kind == "page" else "app"
        name = raw.get("name")
        extra = {"name": name} if isinstance(name, str) else {}
        event_type, properties = "visit", {"channel": channel, **extra, **properties}
    try:
        event = EventIn(
            event_id=message_id,
            member_id=user_id or ANONYMOUS_MEMBER,
            type=event_type,
            occurred_at=occurred_at(raw, received_at, batch_sent_at),
            properties=properties,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(part) for part in error["loc"]]
        field = {"event_id": "messageId", "type": "event"}.get(loc[0], ".".join(loc))
        raise _Refused(field, error["msg"].removeprefix("Value error, ")) from exc
    return MappedMessage(index, user_id, anonymous_id, event)


def _identity(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or len(value) > 128:
        raise _Refused(key, "must be text of at most 128 characters")
    return value


def _object(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Refused(key, "must be a JSON object")
    return value


def _instant(value: object, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Refused(field, "must be an ISO 8601 date and time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _Refused(field, f"{value!r} is not an ISO 8601 date and time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def occurred_at(raw: dict[str, Any], received_at: datetime, batch_sent_at: object) -> datetime:
    """Segment's clock-skew correction: the device's clock may be wrong, but the time between
    the event and the send is right, so occurred = received - (sentAt - timestamp)."""
    timestamp = _instant(raw.get("timestamp"), "timestamp")
    sent_at = _instant(raw.get("sentAt"), "sentAt") or _instant(batch_sent_at, "sentAt")
    if timestamp is None:
        return received_at
    if sent_at is None:
        return timestamp
    return received_at - (sent_at - timestamp)


def _profile(traits: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    profile: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, value in traits.items():
        field = _PROFILE_TRAITS.get(key)
        if field is None:
            attributes[key] = value
        elif value is not None:
            profile[field], sources[field] = value, f"traits.{key}"
    for field in ("locale", "timezone"):
        if isinstance(context.get(field), str):
            profile[field], sources[field] = context[field], f"context.{field}"
    if attributes:
        profile["attributes"], sources["attributes"] = attributes, "traits"
    try:
        member = MemberIn.model_validate(profile)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(part) for part in error["loc"]]
        field = sources.get(loc[0], "traits") if loc else "traits"
        raise _Refused(field, error["msg"].removeprefix("Value error, ")) from exc
    return member.model_dump(mode="json", exclude_unset=True)


def _track(name: object, properties: dict[str, Any], rule: NameRule) -> tuple[str, dict[str, Any]]:
    if not isinstance(name, str) or not name.strip():
        raise _Refused("event", "a track call needs the event's name")
    special = _SPECIAL_TRACKS.get(name)
    if special is None:
        return event_type_for(name, rule), properties
    if special == "member.joined":
        return special, properties
    amount = properties.get("revenue", properties.get("total"))
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | float)):
        raise _Refused("properties.revenue", f"must be a number, not {amount!r}")
    if name == "Order Refunded":
        if amount is None:
            raise _Refused("properties.total", "an Order Refunded needs its total (or revenue)")
        amount = -abs(amount)
    purchase = {k: properties[k] for k in ("order_id", "currency", "products") if k in properties}
    return special, purchase | ({"amount": amount} if amount is not None else {})
