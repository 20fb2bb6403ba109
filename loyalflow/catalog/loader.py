"""Loads journeys/*.yaml into validated `Journey` snapshots. Every problem is reported at once,
each as `file:line:column: message`, the way compilers and linters do."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from loyalflow.catalog.checks import CheckContext, Problem, check_journey
from loyalflow.catalog.event_types import BUILT_IN_ONLY, EventTypes
from loyalflow.catalog.locations import YamlDocument, dotted
from loyalflow.models.journey import STEP_KINDS, Journey
from loyalflow.rules.messaging import MessagingPolicy

_COLUMN_IN_MESSAGE = re.compile(r"^column (\d+): ")
_QUOTED = re.compile(r"'((?:[^']|'')*)'")

# What pydantic's checks mean, in the words of someone writing a journey.
_PATTERNS = {
    r"^[a-z][a-z0-9_]*$": "must start with a lowercase letter and use only lowercase letters, "
    "digits and _ (e.g. welcome_email)",
    r"^[a-z][a-z0-9_.]*$": "must start with a lowercase letter and use only lowercase letters, "
    "digits, _ and . (e.g. welcome.subject_line)",
    r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$": "must be an event type: lowercase words joined "
    "by . (e.g. purchase, review.posted)",
    r"^member\.(attributes\.)?[a-z_][a-z0-9_]*$": "must name a date of the member, such as "
    "member.joined_at or member.attributes.birthday",
}
_PLAIN: dict[str, str] = {
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "string_type": "must be text",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "model_type": "must be a mapping of keys and values (key: value lines)",
    "model_attributes_type": "must be a mapping of keys and values (key: value lines)",
    "dict_type": "must be a mapping of keys and values (key: value lines)",
    "tuple_type": "must be a list (one '- ' item per line)",
    "list_type": "must be a list (one '- ' item per line)",
    "time_delta_type": "must be a duration such as 3d, 12h, 90m or 1w",
    "time_delta_parsing": "must be a duration such as 3d, 12h, 90m or 1w",
    "time_type": "must be a time of day such as 09:30",
    "time_parsing": "must be a time of day such as 09:30",
}
# Checks of a whole step (or trigger) that are about one of its keys: point at that key.
# The first key of each list present in the step is the one pointed at.
_KEY_OF_MESSAGE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("weights (with the holdout) must sum", ("variants",)),
    ("variant names must be unique", ("variants",)),
    ("`holdout` is reserved", ("variants",)),
    ("fallback must be the other channel", ("fallback",)),
    ("schedule must be", ("schedule",)),
    ("`schedule` goes with", ("schedule",)),
    ("a segment trigger's condition", ("condition",)),
    ("duration must be positive", ("duration",)),
    ("must be a positive duration", ("timeout",)),
    ("`on_days` needs", ("on_days",)),
    ("`on_days` must name", ("on_days",)),
    ("`offset` and `each_year`", ("offset", "each_year")),
    ("`until_date` cannot be combined", ("until_date",)),
    ("award_points must not be 0", ("award_points",)),
)
_RESERVED_ID = re.compile(r"^'(\w+)' is reserved")
_TWICE_ID = re.compile(r"^step id '(\w+)' is used twice")
# PyYAML's messages, in plain words.
_YAML_PROBLEMS = (
    ("found character '\\t'", "a tab is used for indentation; YAML needs spaces"),
    ("expected <block end>", "this line is not indented like the lines above it"),
    ("mapping values are not allowed here", "unexpected ': ' (put text with ': ' in quotes)"),
    ("could not find expected ':'", "expected a `key: value` line here"),
    ("found unexpected end of stream", "a quote or bracket is opened but never closed"),
    ("found unexpected ':'", "unexpected ':' (put text with ':' in quotes)"),
    ("expected ',' or ']'", "a [list] is not closed with ']' (or lacks a ',')"),
    ("expected ',' or '}'", "a {mapping} is not closed with '}' (or lacks a ',')"),
)


class JourneyLoadError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Catalog:
    journeys: dict[str, Journey]

    def triggered_by(self, event_type: str) -> list[Journey]:
        return [j for j in self.journeys.values() if j.trigger.event == event_type]


def _without_tags(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """pydantic names the step kind in the path (steps.0.send.template): it is not in the file."""
    path: list[int | str] = []
    for part in loc:
        if part in STEP_KINDS and len(path) >= 2 and path[-2] == "steps":
            continue
        path.append(part)
    return tuple(path)


def _model_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the mapping at `loc` (pydantic's path, tags included) may have."""
    candidates: list[type[BaseModel]] = [Journey]
    for part in loc:
        models = [m for m in candidates if isinstance(part, str) and part in m.model_fields]
        if models:
            candidates = list(_models_in(models[0].model_fields[str(part)].annotation))
            continue
        tagged = [m for m in candidates if _kind_of(m) == part]
        if tagged:
            candidates = tagged
    return list(candidates[0].model_fields) if len(candidates) == 1 else []


def _models_in(annotation: object) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for argument in get_args(annotation):
        yield from _models_in(argument)


def _kind_of(model: type[BaseModel]) -> object:
    field = model.model_fields.get("kind")
    arguments = get_args(field.annotation) if field is not None else ()
    return arguments[0] if len(arguments) == 1 else None


def _one_of(expected: str) -> str:
    choices = [choice.replace("''", "'") for choice in _QUOTED.findall(expected)]
    return f"must be one of: {', '.join(choices)}" if choices else f"must be {expected}"


def _from_pydantic(error: ErrorDetails) -> Problem | None:
    loc = tuple(error["loc"])
    path = _without_tags(loc)
    message = error["msg"].removeprefix("Value error, ")
    kind = error["type"]
    ctx = error.get("ctx", {})
    given = error.get("input")
    if path and path[-1] == "[key]":  # a key of a mapping (quiet_hours: {fax: ...})
        path = path[:-1]
        meaning = _one_of(str(ctx.get("expected"))) if kind == "literal_error" else message
        return Problem(
            path, f"{dotted(path[:-1])}: key {path[-1]!r} is not allowed ({meaning})", at_key=True
        )
    where = dotted(path)
    if kind == "extra_forbidden":
        close = get_close_matches(str(path[-1]), _model_keys(loc[:-1]), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        prefix = f"{dotted(path[:-1])}: " if len(path) > 1 else ""
        return Problem(path, f"{prefix}unknown key {path[-1]!r}{hint}", at_key=True)
    if kind == "union_tag_invalid":
        kinds = ", ".join(STEP_KINDS)
        return Problem(
            (*path, "kind"),
            f"{where}.kind: unknown step kind {ctx.get('tag', '?')!r} (must be one of: {kinds})",
        )
    if kind == "union_tag_not_found":
        return Problem(path, f"{where}: a step needs a `kind` (one of: {', '.join(STEP_KINDS)})")
    if kind == "missing":
        parent = path[:-1]
        prefix = f"{dotted(parent)}: " if parent else ""
        return Problem(parent, f"{prefix}required field {path[-1]!r} is missing")
    if kind == "too_short":
        if isinstance(given, list | tuple) and len(given) >= ctx.get("min_length", 0):
            return None  # items that failed their own checks: reported on their own
        items = ctx.get("min_length", 1)
        return Problem(path, f"{where}: must have at least {items} item{'s' * (items != 1)}")
    if kind == "literal_error":
        return Problem(path, f"{where}: {_one_of(str(ctx.get('expected', '')))}, not {given!r}")
    if kind == "string_pattern_mismatch":
        meaning = _PATTERNS.get(str(ctx.get("pattern")), f"must match {ctx.get('pattern')}")
        return Problem(path, f"{where}: {meaning}, not {given!r}")
    if kind == "greater_than_equal":
        return Problem(path, f"{where}: must be at least {ctx.get('ge')}, not {given!r}")
    if kind == "less_than_equal":
        return Problem(path, f"{where}: must be at most {ctx.get('le')}, not {given!r}")
    if kind == "string_too_short":
        return Problem(path, f"{where}: must not be empty")
    if kind == "string_too_long":
        return Problem(path, f"{where}: must be at most {ctx.get('max_length')} characters")
    if kind in _PLAIN:
        return Problem(path, f"{where}: {_PLAIN[kind]}, not {given!r}")
    column = _COLUMN_IN_MESSAGE.match(message)
    if column:
        message = message[column.end() :]
        return Problem(path, f"{where}: {message}", column_in_value=int(column.group(1)))
    if kind == "value_error" and isinstance(given, dict):
        return _model_level(path, message, given)
    return Problem(path, f"{where}: {message}")


def _model_level(path: tuple[int | str, ...], message: str, given: dict[str, Any]) -> Problem:
    """A check of a whole step, trigger or journey: point at the key it is about."""
    for start, keys in _KEY_OF_MESSAGE:
        if message.startswith(start):
            present = [key for key in keys if key in given]
            if present:
                return Problem((*path, present[0]), f"{dotted(path)}: {message}", at_key=True)
    steps = given.get("steps") if not path else None
    for pattern in (_RESERVED_ID, _TWICE_ID):
        match = pattern.match(message)
        if match and isinstance(steps, list):
            indexes = [
                n for n, s in enumerate(steps) if isinstance(s, dict) and s.get("id") == match[1]
            ]
            at: tuple[int | str, ...] = ("steps", indexes[-1], "id") if indexes else ("steps",)
            return Problem(at, f"{dotted(at)}: {message}")
    return Problem(path, f"{dotted(path)}: {message}")


def _located(path: Path, document: YamlDocument, problem: Problem) -> tuple[int, int, str]:
    if problem.column_in_value is not None:
        where = document.locate_in_value(problem.path, problem.column_in_value)
    else:
        where = document.locate(problem.path, key=problem.at_key)
    return where.line, where.column, f"{path}:{where.line}:{where.column}: {problem.message}"


def _format(path: Path, document: YamlDocument, problems: list[Problem]) -> list[str]:
    """In the order of the file, as a marketer reads it."""
    return [text for _, _, text in sorted(_located(path, document, p) for p in problems)]


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or "not valid YAML"
    for start, plain in _YAML_PROBLEMS:
        if problem.startswith(start):
            return f"not valid YAML: {plain}"
    return f"not valid YAML: {problem}"


def load_journey(path: Path, context: CheckContext) -> Journey:
    try:
        document = YamlDocument(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise JourneyLoadError([f"{path}:{line}:{column}: {_yaml_problem(exc)}"]) from exc
    except OSError as exc:
        raise JourneyLoadError([f"{path}: cannot be read ({exc.strerror or exc})"]) from exc
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise JourneyLoadError([f"{path}: cannot be read ({exc})"]) from exc
    if not isinstance(document.data, dict):
        raise JourneyLoadError(
            [f"{path}:1:1: a journey is a mapping (id, name, trigger, steps...)"]
        )
    duplicates = [
        f"{path}:{d.location.line}:{d.location.column}: "
        f"{dotted(d.path[:-1]) + ': ' if len(d.path) > 1 else ''}key {d.path[-1]!r} "
        f"is written twice (first on line {d.first_line}); only the last one would count"
        for d in document.duplicate_keys()
    ]
    try:
        journey = Journey.model_validate(document.data)
    except ValidationError as exc:
        problems = [p for p in map(_from_pydantic, exc.errors()) if p is not None]
        raise JourneyLoadError(duplicates + _format(path, document, problems)) from exc
    found = _format(path, document, check_journey(journey, context))
    if duplicates or found:
        raise JourneyLoadError(duplicates + found)
    return journey


def load_catalog(
    journeys_dir: Path,
    templates_dir: Path,
    policy: MessagingPolicy,
    locales: tuple[str, ...],
    event_types: EventTypes = BUILT_IN_ONLY,
) -> Catalog:
    context = CheckContext(
        templates_dir=templates_dir, policy=policy, locales=locales, event_types=event_types
    )
    journeys: dict[str, Journey] = {}
    problems: list[str] = []
    for path in sorted(journeys_dir.glob("*.yaml")):
        try:
            journey = load_journey(path, context)
        except JourneyLoadError as exc:
            problems.extend(exc.problems)
            continue
        if journey.id in journeys:
            problems.append(f"{path}:1:1: journey id {journey.id!r} is defined twice")
        journeys[journey.id] = journey
    if problems:
        raise JourneyLoadError(problems)
    return Catalog(journeys)
