"""What a marketer can get wrong beyond the shape of a journey: the step graph (dangling,
unreachable, endless loops), the templates behind each send, and the consent topic.

Each problem carries the field path it is about, so the loader can point at file:line:column.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path

from loyalflow.catalog.event_checks import event_type_problems, trigger_properties
from loyalflow.catalog.event_types import BUILT_IN_ONLY, EventTypes
from loyalflow.catalog.locations import dotted
from loyalflow.catalog.template_check import check_template
from loyalflow.models.conditions import parse_condition, references
from loyalflow.models.journey import (
    END,
    BranchStep,
    Journey,
    SendStep,
    SplitStep,
    Step,
    WaitForStep,
    WaitStep,
)
from loyalflow.models.template_vars import MEMBER_FIELDS as TEMPLATE_MEMBER_FIELDS
from loyalflow.rules.messaging import MessagingPolicy

Path_ = tuple[int | str, ...]

# Properties of the events loyalflow derives, which templates may read as `trigger.*`.
# Events clients post carry free-form properties, so templates reading them are not checked.
DERIVED_PROPERTIES: dict[str, frozenset[str]] = {
    "purchase.first": frozenset({"amount", "points"}),
    "tier.upgraded": frozenset({"from", "to"}),
    "tier.downgraded": frozenset({"from", "to", "requalification"}),
    "member.inactive": frozenset({"days", "last_activity_at"}),
    # Loyalty mechanics (issue 14)
    "points.expired": frozenset({"amount", "lots", "balance"}),
    "points.expiring": frozenset({"amount", "expires_at", "days"}),
    "points.redeemed": frozenset({"redemption_id", "reward_id", "points", "balance"}),
    "tier.near_next": frozenset({"tier", "next_tier", "needed"}),
    "tier.will_downgrade": frozenset({"tier", "to", "needed", "on"}),
    "referral.converted": frozenset({"role", "points", "referred_id", "referrer_id"}),
}


@dataclass(frozen=True)
class Problem:
    path: Path_
    message: str
    at_key: bool = False  # point at the key itself (an unknown key) rather than its value
    column_in_value: int | None = None  # a position inside the value (condition text)


@dataclass(frozen=True)
class CheckContext:
    templates_dir: Path
    policy: MessagingPolicy
    locales: tuple[str, ...] = ("en", "fr")
    event_types: EventTypes = BUILT_IN_ONLY


def check_journey(journey: Journey, context: CheckContext) -> list[Problem]:
    problems = [
        *_dangling(journey),
        *_unreachable(journey),
        *_loops_without_wait(journey),
        *_event_only_conditions(journey),
        *_event_types(journey, context.event_types),
        *_schedule(journey),
        *_sends(journey, context),
    ]
    if journey.topic not in context.policy.topics:
        known = ", ".join(sorted(context.policy.topics))
        problems.append(
            Problem(
                ("topic",),
                f"topic {journey.topic!r} has no consent rules in the messaging policy, so no "
                f"message can be sent on it (topics with rules: {known})",
            )
        )
    return problems


def _references(index: int, step: Step) -> Iterator[tuple[Path_, str]]:
    base: Path_ = ("steps", index)
    if isinstance(step, BranchStep):
        for n, case in enumerate(step.branches):
            yield (*base, "branches", n, "next"), case.next
        if step.default:
            yield (*base, "default"), step.default
    elif isinstance(step, SplitStep):
        for n, variant in enumerate(step.variants):
            if variant.next:
                yield (*base, "variants", n, "next"), variant.next
    elif isinstance(step, WaitForStep):
        if step.on_event:
            yield (*base, "on_event"), step.on_event
        if step.on_timeout:
            yield (*base, "on_timeout"), step.on_timeout
    else:
        target: str | None = getattr(step, "next", None)
        if target:
            yield (*base, "next"), target


def _dangling(journey: Journey) -> Iterator[Problem]:
    ids = {step.id for step in journey.steps} | {END}
    for index, step in enumerate(journey.steps):
        for path, target in _references(index, step):
            if target not in ids:
                close = get_close_matches(target, sorted(ids), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                yield Problem(
                    path, f"{dotted(path)}: goes to step {target!r}, which does not exist{hint}"
                )


def _graph(journey: Journey) -> dict[str, list[str]]:
    ids = {step.id for step in journey.steps}
    return {
        step.id: [t for _, t in journey.exits(step) if t is not None and t in ids]
        for step in journey.steps
    }


def _unreachable(journey: Journey) -> Iterator[Problem]:
    graph = _graph(journey)
    seen = {journey.steps[0].id}
    todo = [journey.steps[0].id]
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    for index, step in enumerate(journey.steps):
        if step.id not in seen:
            yield Problem(
                ("steps", index, "id"),
                f"step {step.id!r} can never be reached (no step before it leads to it)",
            )


def _loops_without_wait(journey: Journey) -> Iterator[Problem]:
    """A loop through steps that never wait would run without end in an instant."""
    waits = {s.id for s in journey.steps if isinstance(s, WaitStep | WaitForStep)}
    graph = {
        k: [t for t in v if t not in waits] for k, v in _graph(journey).items() if k not in waits
    }
    index = {step.id: n for n, step in enumerate(journey.steps)}
    reported: set[frozenset[str]] = set()
    for start in graph:
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for target in graph.get(node, []):
                if target == start:
                    loop = frozenset(trail)
                    if loop not in reported:
                        reported.add(loop)
                        route = " -> ".join([*trail, start])
                        yield Problem(
                            ("steps", index[start], "id"),
                            f"loop with no wait or wait_for step, it would repeat without "
                            f"end: {route}",
                        )
                elif target not in trail:
                    stack.append((target, [*trail, target]))


def _event_only_conditions(journey: Journey) -> Iterator[Problem]:
    """Exit rules, goals and wait_for react to an event the instant it arrives: they read the
    event's properties, not the member (whose state would need a database read)."""
    rules: list[tuple[Path_, str | None, str]] = [
        (("exit_when", n, "condition"), rule.condition, "an exit rule")
        for n, rule in enumerate(journey.exit_when)
    ]
    if journey.goal is not None:
        rules.append((("goal", "condition"), journey.goal.condition, "a goal"))
    rules += [
        (("steps", n, "condition"), step.condition, "a wait_for step")
        for n, step in enumerate(journey.steps)
        if isinstance(step, WaitForStep)
    ]
    for path, text, what in rules:
        if text is None:
            continue
        condition = parse_condition(text)
        member = [r for r in references(condition.expression) if r.path[0] == "member"]
        if member:
            yield Problem(
                path,
                f"{dotted(path)}: the condition of {what} may only read the event (event.*), "
                f"not {member[0].dotted}",
                column_in_value=member[0].column,
            )


def _event_types(journey: Journey, types: EventTypes) -> Iterator[Problem]:
    for path, message, column in event_type_problems(journey, types):
        yield Problem(path, message, column_in_value=column)


# Allowed values of the five cron fields, and the names months and weekdays may use.
_CRON_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    (
        "month",
        1,
        12,
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    ),
    ("day of week", 0, 7, ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]),
)
_CRON_ITEM = re.compile(r"^(\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/([0-9]+))?$")


def cron_problem(expression: str) -> str | None:
    """What is wrong with a 5-field cron expression (minute hour day month weekday), if anything."""
    fields = expression.split()
    if len(fields) != 5:
        return "must be a 5-field cron expression (minute hour day month weekday), e.g. '0 3 * * *'"
    for text, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for item in text.lower().split(","):
            match = _CRON_ITEM.match(item)
            if match is None or (match.group(2) is not None and int(match.group(2)) == 0):
                return f"the {name} field {text!r} is not valid cron"
            if match.group(1) == "*":
                continue
            for bound in match.group(1).split("-"):
                number = names.index(bound) + low if bound in names else None
                if number is None and bound.isdigit():
                    number = int(bound)
                if number is None or not low <= number <= high:
                    return f"the {name} field {text!r} must be within {low}-{high}"
    return None


def _schedule(journey: Journey) -> Iterator[Problem]:
    schedule = journey.trigger.schedule
    if schedule is not None:
        problem = cron_problem(schedule)
        if problem:
            yield Problem(("trigger", "schedule"), f"trigger.schedule: {problem}")


def _sends(journey: Journey, context: CheckContext) -> Iterator[Problem]:
    readable = (
        trigger_properties(journey.trigger.event, context.event_types, DERIVED_PROPERTIES)
        if journey.trigger.event
        else frozenset()
    )
    checked: set[tuple[str, str, frozenset[str]]] = set()
    for index, step in enumerate(journey.steps):
        if not isinstance(step, SendStep):
            continue
        path: Path_ = ("steps", index, "template")
        reported: set[str] = set()  # a missing folder is the same problem for both channels
        for channel in step.channels:
            key = (step.template, channel, frozenset(step.params))
            if key in checked:
                continue
            checked.add(key)
            for message in check_template(
                context.templates_dir,
                step.template,
                channel,
                locales=context.locales,
                params=frozenset(step.params),
                trigger_properties=readable,
                member_fields=TEMPLATE_MEMBER_FIELDS,  # what member_context gives templates
            ):
                if message not in reported:
                    reported.add(message)
                    yield Problem(path, f"{dotted(path)}: {message}")
