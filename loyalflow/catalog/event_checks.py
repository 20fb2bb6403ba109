"""Journeys against the event types: every event a journey reacts to exists (built in or
declared in events.yaml), and conditions on a declared event read only declared properties."""

from collections.abc import Iterator

from loyalflow.catalog.event_types import EventTypes
from loyalflow.catalog.locations import dotted
from loyalflow.models.conditions import parse_condition, references
from loyalflow.models.journey import Journey, WaitForStep

Path_ = tuple[int | str, ...]


def _event_rules(journey: Journey) -> Iterator[tuple[Path_, str, str | None]]:
    """(path of the event key, event type, condition) of the trigger, exits, goal, wait_for."""
    if journey.trigger.event is not None:
        yield ("trigger",), journey.trigger.event, journey.trigger.condition
    for n, rule in enumerate(journey.exit_when):
        yield ("exit_when", n), rule.event, rule.condition
    if journey.goal is not None:
        yield ("goal",), journey.goal.event, journey.goal.condition
    for n, step in enumerate(journey.steps):
        if isinstance(step, WaitForStep):
            yield ("steps", n), step.event, step.condition


def event_type_problems(
    journey: Journey, types: EventTypes
) -> Iterator[tuple[Path_, str, int | None]]:
    """Every event a journey waits for is built in or declared in events.yaml, and conditions on
    a declared event read only the properties its declaration names."""
    for base, event_type, text in _event_rules(journey):
        path: Path_ = (*base, "event")
        if not types.knows(event_type):
            yield path, f"{dotted(path)}: {types.unknown(event_type)}", None
            continue
        spec = types.declared.get(event_type)
        if spec is None or text is None:
            continue
        for reference in references(parse_condition(text).expression):
            if reference.path[0] != "event" or len(reference.path) < 2:
                continue
            if reference.path[1] not in spec.properties:
                declared = ", ".join(sorted(spec.properties)) or "none"
                yield (
                    (*base, "condition"),
                    f"{dotted((*base, 'condition'))}: {reference.dotted} is not a property of "
                    f"{event_type!r} (declared in events.yaml: {declared})",
                    reference.columns[1] if len(reference.columns) > 1 else None,
                )


def trigger_properties(
    event_type: str, types: EventTypes, derived: dict[str, frozenset[str]]
) -> frozenset[str] | None:
    """What templates may read as `trigger.*`; None: free-form properties, not checked."""
    spec = types.declared.get(event_type)
    if spec is not None:
        return frozenset(spec.properties)
    return derived.get(event_type)
