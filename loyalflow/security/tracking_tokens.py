"""Short signed tokens for tracked links and the open pixel (issue 16).

A token names a message and, for a link, its position, nothing else: the destination URL is
stored with the message (`message_link`), so a token cannot be made to redirect anywhere the
message did not link to. The signature is an HMAC by `itsdangerous` with the deployment's key
(`security.tokens.secret_key`), under one salt per kind, so an open token is never a click
token. Tokens do not expire: a link in a mail read a year later must still lead somewhere.

A loyalflow message id is a UUID; it travels as its 16 bytes in base64url (22 characters) to
keep the links short. Ids of another shape travel as they are.
"""

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, Signer

from loyalflow.config import Settings
from loyalflow.security.tokens import secret_key

TrackingKind = Literal["click", "open", "sms"]
_SALT_PREFIX = "loyalflow.track."
_RAW_ID_MARK = "~"  # a message id that is not a UUID, sent verbatim after this mark


class TrackingTokenInvalid(ValueError):
    """Not signed by us, altered, or made for another kind of hit."""


@dataclass(frozen=True)
class TrackedHit:
    message_id: str
    position: int | None  # None for the open pixel


def _signer(settings: Settings, kind: TrackingKind) -> Signer:
    return Signer(secret_key(settings), salt=_SALT_PREFIX + kind, sep=".")


def _pack_id(message_id: str) -> str:
    try:
        parsed = uuid.UUID(message_id)
    except ValueError:
        return _RAW_ID_MARK + message_id
    if str(parsed) != message_id:
        return _RAW_ID_MARK + message_id  # not in canonical form: keep it exactly
    return base64.urlsafe_b64encode(parsed.bytes).decode("ascii").rstrip("=")


def _unpack_id(packed: str) -> str:
    if packed.startswith(_RAW_ID_MARK):
        return packed[1:]
    try:
        return str(uuid.UUID(bytes=base64.urlsafe_b64decode(packed + "==")))
    except (binascii.Error, ValueError) as exc:
        raise TrackingTokenInvalid("not a tracking token") from exc


def make_tracking_token(
    settings: Settings, kind: TrackingKind, message_id: str, position: int | None = None
) -> str:
    if (position is None) != (kind == "open"):
        raise ValueError("click and SMS tokens name a link position; open tokens do not")
    body = _pack_id(message_id) + ("" if position is None else f"-{position}")
    return _signer(settings, kind).sign(body).decode("ascii")


def read_tracking_token(settings: Settings, kind: TrackingKind, token: str) -> TrackedHit:
    try:
        body = _signer(settings, kind).unsign(token).decode("ascii")
    except (BadSignature, UnicodeError) as exc:
        raise TrackingTokenInvalid("not a tracking token") from exc
    if kind == "open":
        return TrackedHit(_unpack_id(body), None)
    packed, sep, position = body.rpartition("-")
    if not sep or not position.isdigit():
        raise TrackingTokenInvalid("not a tracking token")
    return TrackedHit(_unpack_id(packed), int(position))


def click_url(settings: Settings, message_id: str, position: int) -> str:
    return (
        f"{settings.public_url}/t/c/{make_tracking_token(settings, 'click', message_id, position)}"
    )


def sms_url(settings: Settings, message_id: str, position: int) -> str:
    return f"{settings.public_url}/t/s/{make_tracking_token(settings, 'sms', message_id, position)}"


def pixel_url(settings: Settings, message_id: str) -> str:
    return f"{settings.public_url}/t/o/{make_tracking_token(settings, 'open', message_id)}.gif"
