"""A journey's published versions (table `journey_version`: each definition under its content
hash, recorded when a process loads it) and the difference between two of them: a unified diff
of their definitions written as YAML, line by line, so the page can mark added and removed
lines (and escape them, as every page does)."""

import difflib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import yaml
from sqlmodel import col, select

from loyalflow.models.db import read_scope
from loyalflow.models.tables import JourneyVersion

# A journey changes a few times a month; a page of them is years of history.
MAX_VERSIONS = 200
CONTEXT_LINES = 3

LineKind = Literal["added", "removed", "hunk", "file", "same"]


@dataclass(frozen=True)
class VersionRow:
    version: str
    published_at: datetime


@dataclass(frozen=True)
class DiffLine:
    kind: LineKind
    text: str


class UnknownVersion(LookupError):
    """`field` (a form field: from_version, to_version) names a version the journey never had."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def versions(url: str, journey_id: str) -> list[VersionRow]:
    """Newest first."""
    with read_scope(url) as session:
        rows = session.exec(
            select(JourneyVersion.version, JourneyVersion.published_at)
            .where(JourneyVersion.journey_id == journey_id)
            .order_by(col(JourneyVersion.published_at).desc(), col(JourneyVersion.version))
            .limit(MAX_VERSIONS)
        )
        return [VersionRow(version, at) for version, at in rows]


def _definition(url: str, journey_id: str, version: str, field: str) -> dict[str, Any]:
    with read_scope(url) as session:
        row = session.get(JourneyVersion, (journey_id, version))
    if row is None:
        raise UnknownVersion(field)
    return row.definition


def _yaml_lines(definition: dict[str, Any]) -> list[str]:
    text = yaml.safe_dump(definition, sort_keys=False, allow_unicode=True, width=100)
    return text.splitlines()


def _kind(line: str) -> LineKind:
    if line.startswith(("+++", "---")):
        return "file"
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+"):
        return "added"
    if line.startswith("-"):
        return "removed"
    return "same"


def version_diff(url: str, journey_id: str, older: str, newer: str) -> list[DiffLine]:
    """What changed from `older` to `newer` ([] when nothing did)."""
    before = _definition(url, journey_id, older, "from_version")
    after = _definition(url, journey_id, newer, "to_version")
    lines = difflib.unified_diff(
        _yaml_lines(before),
        _yaml_lines(after),
        fromfile=older,
        tofile=newer,
        lineterm="",
        n=CONTEXT_LINES,
    )
    return [DiffLine(_kind(line), line) for line in lines]
