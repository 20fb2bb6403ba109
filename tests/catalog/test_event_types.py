"""events.yaml: custom event types, loaded with file:line:column errors; journeys checked
against the declared types and their properties."""

from pathlib import Path

import pytest

from loyalflow.catalog.checks import CheckContext
from loyalflow.catalog.event_types import EventTypesError, load_event_types
from loyalflow.catalog.loader import JourneyLoadError, load_journey
from loyalflow.config import PACKAGE_DIR, Settings
from loyalflow.models.event_types import INGESTED_EVENT_TYPES
from loyalflow.rules.messaging import policy_from

SETTINGS = Settings(_env_file=None)
DECLARED = """\
events:
  review.posted:
    properties:
      rating: {type: number, required: true}
      product_id: string
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(EventTypesError) as raised:
        load_event_types(path)
    return raised.value.problems


def test_the_shipped_file_declares_examples_that_load() -> None:
    types = load_event_types(PACKAGE_DIR / "catalog" / "events.yaml")
    assert "review.posted" in types.declared
    assert types.declared["review.posted"].properties["rating"].required


def test_declarations_are_checked_with_their_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "events.yaml",
        "events:\n"
        "  review.posted:\n"
        "    properties:\n"
        "      rating: {type: integer}\n"
        "  Store Visit:\n"
        "    properties: {}\n"
        "  app.opened:\n"
        "    propertes: {}\n",
    )
    assert problems_of(path) == [
        f"{path}:4:22: events.review.posted.properties.rating.type: Input should be 'string', "
        "'number', 'boolean' or 'datetime'",
        f"{path}:5:3: events.Store Visit: 'Store Visit' must be lowercase words joined by . or _ "
        "(review.posted)",
        f"{path}:8:5: events.app.opened.propertes: Extra inputs are not permitted",
    ]


def test_built_in_types_cannot_be_redefined(tmp_path: Path) -> None:
    path = write(tmp_path, "events.yaml", "events:\n  visit:\n    properties: {}\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:2:3: events.visit: 'visit' is a built-in event type")


def test_not_yaml_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "events.yaml", "events:\n  a.b: {properties: [\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:3:")


def journey_problems(tmp_path: Path, journey: str) -> list[str]:
    context = CheckContext(
        templates_dir=SETTINGS.templates_dir,
        policy=policy_from(SETTINGS.messaging_policy_file),
        event_types=load_event_types(write(tmp_path, "events.yaml", DECLARED)),
    )
    path = write(tmp_path, "journey.yaml", journey)
    with pytest.raises(JourneyLoadError) as raised:
        load_journey(path, context)
    return [p.removeprefix(f"{path}:") for p in raised.value.problems]


JOURNEY = """\
id: reviews
name: Reviews
trigger:
  event: {trigger}
  condition: {condition}
topic: loyalty
steps:
  - id: pause
    kind: wait
    duration: 1d
"""


def test_a_trigger_on_an_undeclared_type_is_an_error_with_its_line(tmp_path: Path) -> None:
    journey = JOURNEY.format(trigger="review.postd", condition="event.rating > 3")
    assert journey_problems(tmp_path, journey) == [
        "4:10: trigger.event: unknown event type 'review.postd' (did you mean 'review.posted'?); "
        f"built-in types: {', '.join(INGESTED_EVENT_TYPES)}; declared in events.yaml: review.posted"
    ]


def test_a_condition_on_an_undeclared_property_is_an_error_at_its_column(tmp_path: Path) -> None:
    journey = JOURNEY.format(trigger="review.posted", condition="event.stars >= 4")
    assert journey_problems(tmp_path, journey) == [
        "5:20: trigger.condition: event.stars is not a property of 'review.posted' "
        "(declared in events.yaml: product_id, rating)"
    ]


def test_declared_types_can_be_waited_for_exit_and_goal(tmp_path: Path) -> None:
    journey = (
        JOURNEY.format(trigger="purchase", condition="event.amount > 0")
        + "  - id: review\n    kind: wait_for\n    event: review.posted\n"
        "    condition: event.rating < 3\n    timeout: 7d\n"
        + "exit_when:\n  - event: review.posted\n    condition: event.ratin == 1\n"
    )
    assert journey_problems(tmp_path, journey) == [
        "18:22: exit_when[0].condition: event.ratin is not a property of 'review.posted' "
        "(declared in events.yaml: product_id, rating)"
    ]
