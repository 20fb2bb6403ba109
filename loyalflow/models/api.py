"""HTTP shapes (request and response bodies), kept apart from the tables."""

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel import Locale, UnknownLocaleError
from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, field_validator

from loyalflow.models.journey import DERIVED_EVENT_TYPES, INGESTED_EVENT_TYPES

MEMBER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
MemberId = Annotated[str, Field(pattern=MEMBER_ID_PATTERN, examples=["M-1001"])]


def normalise_phone(value: str) -> str:
    """E.164 only: `+` and country code, so that a number means the same thing everywhere."""
    if not value.startswith("+"):
        raise ValueError("phone must be in E.164 format, e.g. +33612345678")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"phone is not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("phone is not a valid number for its country code")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_locale(value: str) -> str:
    try:
        locale = Locale.parse(value.replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise ValueError(f"locale {value!r} is not a known locale (e.g. en, fr, fr-CA)") from exc
    return "-".join(part for part in (locale.language, locale.territory) if part)


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"timezone {value!r} is not an IANA timezone (e.g. Europe/Paris)") from exc
    return value


class MemberIn(BaseModel):
    """Fields left out of a PUT keep their stored value."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = None
    phone: str | None = None
    first_name: Annotated[str, Field(max_length=200)] | None = None
    locale: str = "en"
    timezone: str = "UTC"
    attributes: dict[str, Any] = Field(default_factory=dict)

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


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str | None
    phone: str | None
    first_name: str | None
    locale: str
    timezone: str
    tier: str | None
    points: int
    joined_at: datetime | None
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    last_activity_at: datetime | None
    purchase_count: int
    total_spent: float
    attributes: dict[str, Any]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: Annotated[str, Field(min_length=1, max_length=128)]
    member_id: MemberId
    type: str
    occurred_at: AwareDatetime
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value in DERIVED_EVENT_TYPES:
            raise ValueError(f"{value!r} is derived by loyalflow and cannot be posted")
        if value not in INGESTED_EVENT_TYPES:
            raise ValueError(
                f"unknown event type {value!r}; expected one of {INGESTED_EVENT_TYPES}"
            )
        return value

    @field_validator("properties")
    @classmethod
    def _purchase_amount(cls, value: dict[str, Any]) -> dict[str, Any]:
        amount = value.get("amount")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | float)):
            raise ValueError("properties.amount must be a number")
        return value


class EventOutcome(BaseModel):
    event_id: str
    status: Literal["accepted", "duplicate"]


class IngestResponse(BaseModel):
    accepted: int
    duplicates: int
    events: list[EventOutcome]
    routing: Literal["done", "pending"] = Field(
        description="pending: stored safely, journeys will be started/signalled by the re-router"
    )
