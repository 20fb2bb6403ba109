"""What a stored field may hold, checked before anything is written: text and JSON both
databases can store, single-line names, E.164 phones, known locales and IANA timezones. The API's
shapes (`models/api.py`) and the importer apply them, so a bad value is a 4xx naming the field."""

import math
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import available_timezones

import phonenumbers
from babel import Locale, UnknownLocaleError
from pydantic import AfterValidator, AwareDatetime


def storable_json(value: Any, path: str = "") -> Any:
    """Rejects what a JSON column cannot hold everywhere: NaN/Infinity and NUL characters."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{path or 'value'} must be a finite number")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        raise ValueError(f"{path or 'value'} is too large")
    if isinstance(value, str):
        _storable_text(value, path or "value")
    if isinstance(value, dict):
        for key, item in value.items():
            storable_json(key, f"{path}.{key}".lstrip("."))
            storable_json(item, f"{path}.{key}".lstrip("."))
    if isinstance(value, list):
        for index, item in enumerate(value):
            storable_json(item, f"{path}[{index}]")
    return value


def _storable_text(value: str, name: str = "text") -> str:
    """JSON allows NUL and lone surrogates (`\\ud800`); neither database can store them."""
    if "\x00" in value:
        raise ValueError(f"{name} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} is not valid Unicode (a lone surrogate)") from None
    return value


def _storable_instant(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("is outside the range of storable dates") from exc


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _single_line(value: str) -> str:
    """Names and ids end up in email headers, SMS bodies and log lines: no CR/LF, tab or other
    control characters (a `first_name` of `Al\r\nBcc: x` must never become a header)."""
    found = _CONTROL_CHARACTERS.search(value)
    if found:
        raise ValueError(
            f"must be a single line without control characters (found U+{ord(found[0]):04X})"
        )
    return value


# Text shown to people or placed in headers: one line, no control characters.
Line = Annotated[str, AfterValidator(_storable_text), AfterValidator(_single_line)]
JsonObject = Annotated[dict[str, Any], AfterValidator(storable_json)]
Instant = Annotated[AwareDatetime, AfterValidator(_storable_instant)]


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
    if number.extension:
        raise ValueError("phone must not have an extension: SMS cannot reach one")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_locale(value: str) -> str:
    try:
        locale = Locale.parse(value.replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise ValueError(f"locale {value!r} is not a known locale (e.g. en, fr, fr-CA)") from exc
    if locale.language == "root":
        raise ValueError("locale must name a language (e.g. en, fr, fr-CA)")
    return "-".join(part for part in (locale.language, locale.script, locale.territory) if part)


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(value: str) -> str:
    # The IANA list, not whatever ZoneInfo can open: `localtime` would mean this server's zone.
    if value not in _timezones():
        raise ValueError(f"timezone {value!r} is not an IANA timezone (e.g. Europe/Paris)")
    return value
