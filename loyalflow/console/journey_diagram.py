"""A journey's diagram with live counts, drawn on the server as HTML from the journey's graph:
a box per step (what it does, how many runs reached it and wait in it now, and for a send step
per channel what was sent, opened, clicked, and not sent by reason), the trigger above, the end
below, and each way out of a step as a labelled link to the box it leads to.

Why not Mermaid (which `loyalflow journeys show --mermaid` prints): in the browser it writes a
<style> element into every SVG it draws, which the console's Content-Security-Policy
(`style-src 'self'`, nothing inline) refuses, so it would need 'unsafe-inline' styles; it is
also over 2 MB of JavaScript to lay out a dozen boxes, and its SVG text is not read well by
screen readers. HTML boxes styled by console.css are CSP-clean, work offline and without
JavaScript, escape the marketer's text like every other page, and are a list a screen reader
can walk; a journey is a short sequence of steps with forward jumps, which reads well top to
bottom with its exits spelled out.

The counts are the journey report's (`analytics.journey_report`), every version together: the
same figures as `GET /reports/journeys/{id}` and `loyalflow report journey`.
"""

from dataclasses import dataclass

from loyalflow.analytics.journey_models import Count, Funnel
from loyalflow.catalog.text import describe_step
from loyalflow.models.journey import Journey

END = "end"


@dataclass(frozen=True)
class ChannelCounts:
    channel: str
    sent: int
    opened: int
    clicked: int
    not_sent: list[Count]


@dataclass(frozen=True)
class Exit:
    label: str  # "" for the plain next step
    target: str  # a step id, or END


@dataclass(frozen=True)
class StepBox:
    id: str
    kind: str
    text: str
    reached: int
    waiting_now: int
    channels: list[ChannelCounts]
    exits: list[Exit]
    in_definition: bool  # False: a step only earlier versions had (runs may still wait in it)


@dataclass(frozen=True)
class Diagram:
    trigger: str
    first_step: str
    steps: list[StepBox]
    exit_rules: list[str]  # events that end a run wherever it is


def _channels(counts: Funnel, step_id: str) -> list[ChannelCounts]:
    return [
        ChannelCounts(s.channel, s.sent, s.opened, s.clicked, s.not_sent)
        for s in counts.sends
        if s.step_id == step_id
    ]


def diagram(journey: Journey, trigger: str, counts: Funnel) -> Diagram:
    steps = {s.step_id: s for s in counts.steps}
    boxes = []
    for step in journey.steps:
        funnel = steps.get(step.id)
        boxes.append(
            StepBox(
                id=step.id,
                kind=step.kind,
                text=describe_step(step),
                reached=funnel.reached if funnel else 0,
                waiting_now=funnel.waiting_now if funnel else 0,
                channels=_channels(counts, step.id),
                exits=[Exit(label, target or END) for label, target in journey.exits(step)],
                in_definition=True,
            )
        )
    defined = {step.id for step in journey.steps}
    for funnel in counts.steps:
        if funnel.step_id not in defined:
            boxes.append(
                StepBox(
                    id=funnel.step_id,
                    kind=funnel.kind,
                    text="",
                    reached=funnel.reached,
                    waiting_now=funnel.waiting_now,
                    channels=_channels(counts, funnel.step_id),
                    exits=[],
                    in_definition=False,
                )
            )
    rules = [
        rule.event + (f" if {rule.condition}" if rule.condition else "")
        for rule in journey.exit_when
    ]
    return Diagram(trigger, journey.steps[0].id, boxes, rules)
