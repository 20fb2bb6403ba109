"""The journey files' problems, as `loyalflow journeys validate` finds them: every file of the
journeys folder loaded and checked again when something changed, so a marketer who saved a
broken file sees it (file, line, column, message) before a restart would refuse it. The running
catalogue was loaded at start and keeps working meanwhile.

Checking is not cheap (every template a journey sends is parsed in every locale: about 0.4 s for
the ten built-in journeys), so the answer is kept until a file it read changes: each request
only looks at the files' sizes and modification times (a few hundred `stat` calls)."""

import re
from dataclasses import dataclass
from functools import lru_cache
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


# (path, size, modification time in ns) of every file the check reads; -1s when it is absent
Fingerprint = tuple[tuple[str, int, int], ...]


def _stat(path: Path) -> tuple[str, int, int]:
    try:
        found = path.stat()
    except OSError:
        return str(path), -1, -1
    return str(path), found.st_size, found.st_mtime_ns


def _fingerprint(settings: Settings) -> Fingerprint:
    files = [
        *sorted(settings.journeys_dir.glob("*.yaml")),
        *sorted(p for p in settings.templates_dir.rglob("*") if p.is_file()),
        settings.messaging_policy_file,
        settings.events_file,
    ]
    return tuple(_stat(path) for path in files)


def journey_file_problems(settings: Settings) -> list[FileProblem]:
    return list(
        _problems(
            settings.journeys_dir,
            settings.templates_dir,
            settings.messaging_policy_file,
            settings.events_file,
            tuple(settings.template_locales),
            _fingerprint(settings),
        )
    )


@lru_cache(maxsize=8)
def _problems(
    folder: Path,
    templates_dir: Path,
    policy_file: Path,
    events_file: Path,
    locales: tuple[str, ...],
    fingerprint: Fingerprint,  # only a cache key: a changed file checks everything again
) -> tuple[FileProblem, ...]:
    try:
        event_types = event_types_from(events_file)
    except EventTypesError as exc:
        return tuple(_problem(text, folder) for text in exc.problems)
    context = CheckContext(
        templates_dir=templates_dir,
        policy=policy_from(policy_file),
        locales=locales,
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
    return tuple(problems)
