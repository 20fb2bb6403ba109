"""Loads journeys/*.yaml into validated `Journey` snapshots, with errors naming file and field."""

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from loyalflow.models.journey import Journey, SendStep

DEFAULT_LOCALE = "en"


class JourneyLoadError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Catalog:
    journeys: dict[str, Journey]

    def triggered_by(self, event_type: str) -> list[Journey]:
        return [j for j in self.journeys.values() if j.trigger.event == event_type]


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def load_journey(path: Path, templates_dir: Path) -> Journey:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise JourneyLoadError([f"{path}: not valid YAML: {exc}"]) from exc
    try:
        journey = Journey.model_validate(raw)
    except ValidationError as exc:
        raise JourneyLoadError(
            [f"{path}: {_field_path(err['loc'])}: {err['msg']}" for err in exc.errors()]
        ) from exc
    problems = [
        f"{path}: step {step.id!r}: template {step.template!r} has no {DEFAULT_LOCALE} version "
        f"({templates_dir / step.template / f'{DEFAULT_LOCALE}.subject.txt'} is missing)"
        for step in journey.steps
        if isinstance(step, SendStep)
        and not (templates_dir / step.template / f"{DEFAULT_LOCALE}.subject.txt").is_file()
    ]
    if problems:
        raise JourneyLoadError(problems)
    return journey


def load_catalog(journeys_dir: Path, templates_dir: Path) -> Catalog:
    journeys: dict[str, Journey] = {}
    problems: list[str] = []
    for path in sorted(journeys_dir.glob("*.yaml")):
        try:
            journey = load_journey(path, templates_dir)
        except JourneyLoadError as exc:
            problems.extend(exc.problems)
            continue
        if journey.id in journeys:
            problems.append(f"{path}: journey id {journey.id!r} is defined twice")
        journeys[journey.id] = journey
    if problems:
        raise JourneyLoadError(problems)
    return Catalog(journeys)
