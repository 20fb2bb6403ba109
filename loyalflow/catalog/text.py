"""Journey steps in plain words, one line each: `journeys show`, timelines and `member explain`
all describe a step the same way."""

from loyalflow.models.durations import format_duration
from loyalflow.models.journey import (
    BranchStep,
    ExitStep,
    SendStep,
    SplitStep,
    Step,
    UpdateStep,
    WaitForStep,
    WaitStep,
)


def describe_step(step: Step) -> str:
    """One line per step, in plain words."""
    if isinstance(step, SendStep):
        fallback = f", else {step.fallback}" if step.fallback else ""
        return f"send {step.template} by {step.channel}{fallback}"
    if isinstance(step, WaitStep):
        parts = [f"wait {format_duration(step.duration)}" if step.duration else "wait"]
        if step.until_date:
            parts.append(
                f"until {step.until_date}{f' {format_duration(step.offset)}' if step.offset else ''}"
            )
        if step.at:
            days = f" on {','.join(step.on_days)}" if step.on_days else ""
            parts.append(f"then until {step.at:%H:%M}{days} (member's time)")
        return " ".join(parts)
    if isinstance(step, WaitForStep):
        condition = f" where {step.condition}" if step.condition else ""
        return f"wait for {step.event}{condition}, at most {format_duration(step.timeout)}"
    if isinstance(step, BranchStep):
        return "branch"
    if isinstance(step, SplitStep):
        return f"split test {step.experiment or '(journey.step)'}"
    if isinstance(step, UpdateStep):
        parts = []
        if step.award_points:
            parts.append(f"award {step.award_points} points")
        if step.set:
            parts.append(f"set {', '.join(f'{k}={v}' for k, v in step.set.items())}")
        if step.add_tag:
            parts.append(f"tag {step.add_tag}")
        return "; ".join(parts)
    assert isinstance(step, ExitStep)
    return f"exit ({step.reason})"
