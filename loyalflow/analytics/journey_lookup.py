"""Which definition a report reads: the journey as loaded now, else the last one published (a
journey whose file was removed still has results); and each version's own steps."""

from collections.abc import Iterable, Mapping

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from loyalflow.models.journey import Journey, SplitStep
from loyalflow.models.tables import JourneyVersion


def _parse(definition: object) -> Journey | None:
    try:
        return Journey.model_validate(definition)
    except ValidationError:
        return None  # written by an older loyalflow whose language has changed since


def find_journey(
    session: Session, loaded: Mapping[str, Journey], journey_id: str
) -> Journey | None:
    if journey_id in loaded:
        return loaded[journey_id]
    definition = session.execute(
        select(col(JourneyVersion.definition))
        .where(col(JourneyVersion.journey_id) == journey_id)
        .order_by(col(JourneyVersion.published_at).desc())
        .limit(1)
    ).scalar()
    return _parse(definition) if definition is not None else None


def version_definitions(
    session: Session, journey: Journey, versions: Iterable[str]
) -> dict[str, Journey]:
    """Each version's definition (the current one when a version was never published)."""
    wanted = sorted(set(versions) - {journey.version})
    found: dict[str, Journey] = {journey.version: journey}
    if wanted:
        for version, definition in session.execute(
            select(col(JourneyVersion.version), col(JourneyVersion.definition)).where(
                col(JourneyVersion.journey_id) == journey.id,
                col(JourneyVersion.version).in_(wanted),
            )
        ):
            parsed = _parse(definition)
            if parsed is not None:
                found[version] = parsed
    return {v: found.get(v, journey) for v in [*wanted, journey.version]}


def split_steps(journey: Journey) -> list[SplitStep]:
    return [step for step in journey.steps if isinstance(step, SplitStep)]


def experiment_name(journey: Journey, split: SplitStep) -> str:
    return split.experiment or f"{journey.id}.{split.id}"


def known_journeys(session: Session, loaded: Mapping[str, Journey]) -> dict[str, Journey]:
    """The loaded journeys, and the last published definition of any other (removed files)."""
    others = session.execute(
        select(col(JourneyVersion.journey_id))
        .where(col(JourneyVersion.journey_id).not_in(list(loaded) or [""]))
        .distinct()
    ).scalars()
    found = dict(loaded)
    for journey_id in others:
        journey = find_journey(session, loaded, journey_id)
        if journey is not None:
            found[journey_id] = journey
    return found


def find_experiment(
    session: Session, loaded: Mapping[str, Journey], experiment_id: str
) -> tuple[Journey, SplitStep] | None:
    """By experiment name (`welcome.subject_line`; unnamed splits are `journey.step`), or by
    journey id when that journey has exactly one split."""
    journeys = known_journeys(session, loaded)
    for journey in journeys.values():
        for split in split_steps(journey):
            if experiment_name(journey, split) == experiment_id:
                return journey, split
    named = journeys.get(experiment_id)
    if named is not None and len(split_steps(named)) == 1:
        return named, split_steps(named)[0]
    return None
