"""This process's catalog (loaded and checked once) and the published journey versions."""

from functools import lru_cache
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from loyalflow.catalog.event_types import event_types_from
from loyalflow.catalog.loader import Catalog, load_catalog
from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.tables import JourneyVersion
from loyalflow.rules.messaging import policy_from


@lru_cache(maxsize=4)
def _catalog(
    journeys_dir: Path,
    templates_dir: Path,
    policy_file: Path,
    locales: tuple[str, ...],
    events_file: Path,
) -> Catalog:
    return load_catalog(
        journeys_dir,
        templates_dir,
        policy_from(policy_file),
        locales,
        event_types_from(events_file),
    )


def get_catalog(settings: Settings) -> Catalog:
    """The journeys, loaded and checked once per process (a changed file needs a restart)."""
    return _catalog(
        settings.journeys_dir,
        settings.templates_dir,
        settings.messaging_policy_file,
        tuple(settings.template_locales),
        settings.events_file,
    )


def publish_versions(url: str, catalog: Catalog) -> None:
    """Records each journey definition under its content hash, for reports and support."""
    try:
        _publish(url, catalog)
    except IntegrityError:
        _publish(url, catalog)  # another process published the same version at the same time


def _publish(url: str, catalog: Catalog) -> None:
    with session_scope(url) as session:
        for journey in catalog.journeys.values():
            if session.get(JourneyVersion, (journey.id, journey.version)) is None:
                session.add(
                    JourneyVersion(
                        journey_id=journey.id,
                        version=journey.version,
                        definition=journey.model_dump(mode="json"),
                    )
                )
