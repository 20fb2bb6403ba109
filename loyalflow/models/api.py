"""HTTP shapes (request and response bodies), kept apart from the tables.

One concern: the API's contract with its clients, field by field with its limits, read together
with the OpenAPI document it produces.
"""

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from loyalflow.models.event_types import (
    DERIVED_EVENT_TYPES,
    ENGAGEMENT_EVENT_TYPES,
    EVENT_TYPE_PATTERN,
    INGESTED_EVENT_TYPES,
)
from loyalflow.models.field_values import (
    Instant,
    JsonObject,
    Line,
    check_timezone,
    normalise_locale,
    normalise_phone,
)

MEMBER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
# Bounds on the numbers that reach a column, said in the OpenAPI schema and enforced with a 422
# naming the field and the limit. Member totals are NUMERIC(20, 2) and BIGINT: a million purchases
# or adjustments at the limit still fit.
MAX_AMOUNT = 1_000_000_000  # per purchase or refund, in the program's currency
MAX_POINTS_ADJUSTMENT = 1_000_000_000_000  # per points.adjusted event
MemberId = Annotated[str, Field(pattern=MEMBER_ID_PATTERN, examples=["M-1001"])]


class MemberIn(BaseModel):
    """Fields left out of a PUT keep their stored value."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = None
    phone: Annotated[
        str | None,
        Field(
            description="E.164: `+`, country code, number",
            examples=["+33612345678"],
            json_schema_extra={"pattern": r"^\+[1-9][0-9]{1,14}$"},
        ),
    ] = None
    first_name: Annotated[Line, Field(max_length=200)] | None = None
    locale: str = "en"
    timezone: str = "UTC"
    attributes: JsonObject = Field(default_factory=dict)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalise_phone(value)

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        return normalise_locale(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: Annotated[Line, Field(min_length=1, max_length=128)]
    member_id: MemberId
    type: str
    occurred_at: Instant = Field(
        description="required: when it happened, ISO 8601 with a UTC offset",
        examples=["2026-03-01T10:00:00+01:00"],
    )
    properties: JsonObject = Field(
        default_factory=dict,
        # An event without properties is checked too: `points.adjusted` must not lack `points`.
        validate_default=True,
        description=(
            f"by type: `purchase` takes `amount`, a number between -{MAX_AMOUNT} and "
            f"{MAX_AMOUNT} (negative: a refund); `points.adjusted` requires `points`, an integer "
            f"between -{MAX_POINTS_ADJUSTMENT} and {MAX_POINTS_ADJUSTMENT}; `consent.updated` "
            "takes `channel`, `topic`, `status`, `source`; `profile.updated` takes member fields. "
            "Strings must not contain NUL; integers stay below 2**63."
        ),
    )

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        """Built-in or custom: whether a custom type is declared (events.yaml) is checked when
        the event is stored, against the process's declarations."""
        if value in DERIVED_EVENT_TYPES:
            raise ValueError(f"{value!r} is derived by loyalflow and cannot be posted")
        if value in ENGAGEMENT_EVENT_TYPES:
            raise ValueError(f"{value!r} is recorded by loyalflow's tracking and cannot be posted")
        if len(value) > 64 or not re.fullmatch(EVENT_TYPE_PATTERN, value):
            raise ValueError(
                f"unknown event type {value!r}: event types are lowercase words joined by . "
                f"(built-in: {', '.join(INGESTED_EVENT_TYPES)}; or a type declared in events.yaml)"
            )
        return value

    @field_validator("properties")
    @classmethod
    def _properties_for_type(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        check = _PROPERTY_CHECKS.get(info.data.get("type", ""))
        if check is not None:
            check(value)
        return value


def _require_number(
    properties: dict[str, Any], key: str, *, limit: int, integer: bool = False
) -> None:
    value = properties.get(key)
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise ValueError(f"properties.{key} must be {'an integer' if integer else 'a number'}")
    if not abs(value) <= limit:  # `not <=` also catches NaN
        raise ValueError(f"properties.{key} must be between -{limit:,} and {limit:,}")


def _check_purchase(properties: dict[str, Any]) -> None:
    # No amount is a purchase of unknown value; a negative amount is a refund.
    if "amount" in properties:
        _require_number(properties, "amount", limit=MAX_AMOUNT)


def _check_points_adjusted(properties: dict[str, Any]) -> None:
    _require_number(properties, "points", limit=MAX_POINTS_ADJUSTMENT, integer=True)


def _check_redemption_cancelled(properties: dict[str, Any]) -> None:
    redemption_id = properties.get("redemption_id")
    if not isinstance(redemption_id, str) or not 0 < len(redemption_id) <= 128:
        raise ValueError("properties.redemption_id must be the id of the redemption (a string)")


def _check_referred(properties: dict[str, Any]) -> None:
    referrer = properties.get("referrer_id")
    if not isinstance(referrer, str) or not re.fullmatch(MEMBER_ID_PATTERN, referrer):
        raise ValueError("properties.referrer_id must be the id of the referring member")


def _nested(model: type[BaseModel], properties: dict[str, Any]) -> None:
    """Validates properties against a model, reporting the inner field by name."""
    try:
        model.model_validate(properties)
    except ValidationError as exc:
        raise ValueError(
            "; ".join(
                f"properties.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
        ) from None


def _check_consent(properties: dict[str, Any]) -> None:
    _nested(ConsentChange, properties)


def _check_profile(properties: dict[str, Any]) -> None:
    _nested(MemberIn, properties)


_PROPERTY_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "purchase": _check_purchase,
    "points.adjusted": _check_points_adjusted,
    "consent.updated": _check_consent,
    "profile.updated": _check_profile,
    "redemption.cancelled": _check_redemption_cancelled,
    "member.referred": _check_referred,
}


class ConsentChange(BaseModel):
    """`consent.updated` properties: a member's decision for one channel and topic."""

    model_config = ConfigDict(extra="forbid")

    channel: Literal["email", "sms"]
    topic: Annotated[Line, Field(min_length=1, max_length=64)]
    status: Literal["granted", "revoked"]
    source: Annotated[Line, Field(max_length=64)] | None = None


class EventOutcome(BaseModel):
    event_id: str
    status: Literal["accepted", "duplicate"]


class IngestResponse(BaseModel):
    accepted: int
    duplicates: int
    derived: int = Field(0, description="events loyalflow derived: purchase.first, tier.*")
    events: list[EventOutcome]
    routing: Literal["done", "pending"] = Field(
        description="pending: stored safely, journeys will be started/signalled by the re-router"
    )
