"""Custom event types (events.yaml): what a brand's own events are called and which properties
they carry. Loaded with `file:line:column` errors like journeys; events of a declared type are
checked against their declaration when they arrive, and journeys against the declarations when
they load."""

from dataclasses import dataclass
from datetime import datetime
from difflib import get_close_matches
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from loyalflow.catalog.locations import YamlDocument, dotted
from loyalflow.models.event_types import (
    EVENT_TYPE_PATTERN,
    EVENT_TYPES,
    INGESTED_EVENT_TYPES,
    SEGMENT_TRIGGER_TYPE,
)

PropertyKind = Literal["string", "number", "boolean", "datetime"]
PROPERTY_NAME = r"^[a-z_][a-z0-9_]*$"
# Ingested, derived and engagement (email.clicked...) types: declarations cannot redefine them.
BUILT_IN_TYPES = frozenset((*EVENT_TYPES, SEGMENT_TRIGGER_TYPE))


def _kind_shorthand(value: object) -> object:
    return {"type": value} if isinstance(value, str) else value


class PropertySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: PropertyKind
    required: bool = False
    description: str | None = None


class EventTypeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str | None = None
    properties: dict[
        Annotated[str, Field(pattern=PROPERTY_NAME, max_length=64)],
        Annotated[PropertySpec, BeforeValidator(_kind_shorthand)],
    ] = Field(default_factory=dict)


class EventsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    events: dict[
        Annotated[str, Field(pattern=EVENT_TYPE_PATTERN, max_length=64)], EventTypeSpec
    ] = Field(default_factory=dict)


class EventTypesError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class PropertyProblem:
    field: str  # "properties.rating", or "type"
    message: str


@dataclass(frozen=True)
class EventTypes:
    """The built-in types and the declared ones."""

    declared: dict[str, EventTypeSpec]

    @property
    def ingestible(self) -> tuple[str, ...]:
        """Every type a client may send: built-in first, then the declared ones."""
        return (*INGESTED_EVENT_TYPES, *sorted(self.declared))

    @property
    def all(self) -> tuple[str, ...]:
        return (*EVENT_TYPES, *sorted(self.declared))

    def knows(self, event_type: str) -> bool:
        return event_type in BUILT_IN_TYPES or event_type in self.declared

    def unknown(self, event_type: str) -> str:
        """The message for a type that is neither built in nor declared."""
        close = get_close_matches(event_type, self.all, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        declared = ", ".join(sorted(self.declared)) or "none"
        return (
            f"unknown event type {event_type!r}{hint}; built-in types: "
            f"{', '.join(INGESTED_EVENT_TYPES)}; declared in events.yaml: {declared}"
        )

    def check(self, event_type: str, properties: dict[str, Any]) -> list[PropertyProblem]:
        """An incoming event against its declaration (built-in types are checked elsewhere)."""
        if event_type in BUILT_IN_TYPES:
            return []
        spec = self.declared.get(event_type)
        if spec is None:
            return [PropertyProblem("type", self.unknown(event_type))]
        problems: list[PropertyProblem] = []
        for name, prop in spec.properties.items():
            value = properties.get(name)
            if value is None:
                if prop.required:
                    problems.append(
                        PropertyProblem(
                            f"properties.{name}",
                            f"required by the declaration of {event_type!r} (a {prop.type})",
                        )
                    )
                continue
            if not _has_kind(value, prop.type):
                problems.append(
                    PropertyProblem(
                        f"properties.{name}",
                        f"must be a {prop.type}{_EXAMPLES[prop.type]}, not {value!r}",
                    )
                )
        return problems


_EXAMPLES = {
    "string": "",
    "number": "",
    "boolean": " (true or false)",
    "datetime": " with a timezone (ISO 8601, e.g. 2026-03-01T10:00:00Z)",
}


def _has_kind(value: object, kind: PropertyKind) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


BUILT_IN_ONLY = EventTypes({})


def load_event_types(path: Path) -> EventTypes:
    """Every problem at once, each as `file:line:column: message`."""
    try:
        document = YamlDocument(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise EventTypesError(
            [f"{path}:{line}:{column}: not valid YAML: {exc.problem or exc}"]
        ) from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise EventTypesError([f"{path}: cannot be read ({exc})"]) from exc
    data = {} if document.data is None else document.data
    problems = [
        (d.location.line, d.location.column, f"key {d.path[-1]!r} is written twice")
        for d in document.duplicate_keys()
    ]
    try:
        parsed = EventsFile.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(part for part in error["loc"] if part != "[key]")
            at_key = "[key]" in error["loc"] or error["type"] == "extra_forbidden"
            where = document.locate(loc, key=at_key)
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "string_pattern_mismatch":
                message = f"{loc[-1]!r} must be lowercase words joined by . or _ (review.posted)"
            problems.append((where.line, where.column, f"{dotted(loc)}: {message}"))
        raise EventTypesError(_formatted(path, problems)) from exc
    for name in parsed.events:
        if name in BUILT_IN_TYPES:
            where = document.locate(("events", name), key=True)
            problems.append(
                (
                    where.line,
                    where.column,
                    f"events.{name}: {name!r} is a built-in event type; it cannot be redefined "
                    "(give your event another name)",
                )
            )
    if problems:
        raise EventTypesError(_formatted(path, problems))
    return EventTypes(dict(parsed.events))


def _formatted(path: Path, problems: list[tuple[int, int, str]]) -> list[str]:
    return [f"{path}:{line}:{column}: {message}" for line, column, message in sorted(problems)]


@lru_cache(maxsize=4)
def event_types_from(path: Path) -> EventTypes:
    """Loaded once per process; a changed file takes effect when the process restarts."""
    return load_event_types(path)
