"""The journey files' problems, as `loyalflow journeys validate` finds them: every file of the
journeys folder loaded and checked again on each request, so a marketer who saved a broken file
sees it (file, line, column, message) before a restart would refuse it. The running catalogue
was loaded at start and keeps working meanwhile.

A folder holds a few dozen small files: checking them all takes milliseconds."""

import re
from dataclasses import dataclass
from pathlib import Path

from loyalflow.catalog.checks import CheckContext
from loyalflow.catalog.event_types import EventTypesError, event_types_from
from loyalflow.catalog.loader import JourneyLoadError, load_journey
from loyalflow.config import Settings
from loyalflow.rules.messaging import policy_from

# `path:line:column: message` (or `path: message` when the file cannot be read at all)
_LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$", re.S)
_UNLOCATED = re.compile(r"^(?P<file>.+?): (?P<message>.*)$", re.S)


@dataclass(frozen=True)
class FileProblem:
    file: str  # the file's name in the journeys folder (or the path as the loader wrote it)
    line: int | None
    column: int | None
    message: str


def _problem(text: str, folder: Path) -> FileProblem:
    found = _LOCATED.match(text)
    line: int | None = None
    column: int | None = None
    if found:
        line, column = int(found["line"]), int(found["column"])
    else:
        found = _UNLOCATED.match(text)
    if not found:
        return FileProblem("", None, None, text)
    path = Path(found["file"])
    name = path.name if path.parent == folder else found["file"]
    return FileProblem(name, line, column, found["message"])


def journey_file_problems(settings: Settings) -> list[FileProblem]:
    folder = settings.journeys_dir
    try:
        event_types = event_types_from(settings.events_file)
    except EventTypesError as exc:
        return [_problem(text, folder) for text in exc.problems]
    context = CheckContext(
        templates_dir=settings.templates_dir,
        policy=policy_from(settings.messaging_policy_file),
        locales=tuple(settings.template_locales),
        event_types=event_types,
    )
    problems: list[FileProblem] = []
    seen: set[str] = set()
    for path in sorted(folder.glob("*.yaml")):
        try:
            journey = load_journey(path, context)
        except JourneyLoadError as exc:
            problems.extend(_problem(text, folder) for text in exc.problems)
            continue
        if journey.id in seen:  # as load_catalog says it
            problems.append(
                FileProblem(path.name, 1, 1, f"journey id {journey.id!r} is defined twice")
            )
        seen.add(journey.id)
    return problems
