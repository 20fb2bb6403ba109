"""The shapes of the journey and experiment reports: what the CLI prints, the API returns and the
HTML report draws. Stable field names: the report API and the HTML report read them.

Definitions (README, "Results: journeys and experiments"):
- the cohort is the journey's entries (enrollments) that entered in the period [start, end); all
  their outcomes count, whenever they happened (a run entered in the period and converted after it
  is a conversion of the period);
- converted: the journey's goal event arrived after the entry and within the goal's window;
- revenue: the purchases' `amount` in the same window after each converted or not entry;
- sent: handed to the provider; bounced: refused after that (an email bounce, an SMS the carrier
  reported undelivered); delivered = sent - bounced; opened / clicked: unique messages a person
  opened / clicked (a click counts as an open), machines left out; rates over delivered;
- unsubscribed: the member revoked consent for the message's channel and topic after it, and no
  later message on that channel and topic came in between (the last message gets the blame).
"""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True)


class ReportPeriod(_Report):
    """Entries in [start, end); None: unbounded on that side."""

    start: datetime | None = None
    end: datetime | None = None


class GoalInfo(_Report):
    event: str
    within_days: float
    condition: str | None = None
    # events: read from the events for every entry alike (holdout included); runs: the goal has a
    # condition on the event, which only the runs evaluate, so conversions are what runs recorded
    # while they ran (a holdout, which exits at once, records none).
    basis: Literal["events", "runs"] = "events"


class Count(_Report):
    """A labelled count: exits by reason, messages not sent by reason."""

    label: str
    count: int


class StepFunnel(_Report):
    step_id: str
    kind: str  # send | wait | wait_for | branch | split | update | exit | ? (not in the definition)
    reached: int  # entries that entered this step
    waiting_now: int  # entries still running whose current step is this one


class SendFunnel(_Report):
    step_id: str
    channel: str
    sent: int
    delivered: int
    bounced: int
    opened: int
    clicked: int
    open_rate: float | None  # over delivered; None when nothing was delivered
    click_rate: float | None
    unsubscribed: int
    fell_back: int  # not sent on this channel, sent by the step's fallback channel instead
    not_sent: list[Count]  # by reason (skipped, failed before sending, deferred, in flight)


class Funnel(_Report):
    version: str | None  # None: every version together
    entered: int
    in_progress: int
    completed: int
    exits: list[Count]  # by exit reason, most first (completed included)
    converted: int | None  # None: the journey has no goal
    conversion_rate: float | None
    revenue: Decimal | None  # purchases within the goal window after entry
    steps: list[StepFunnel]
    sends: list[SendFunnel]


class JourneyReport(_Report):
    journey_id: str
    name: str
    period: ReportPeriod
    goal: GoalInfo | None
    generated_at: datetime
    total: Funnel
    versions: list[Funnel]  # newest first (by first entry)


# --- experiments -------------------------------------------------------------------------------


class Interval(_Report):
    low: float
    high: float


class Comparison(_Report):
    """One arm on one metric against the control arm. Lifts and p-values are None for the
    control itself, or when undefined (an empty arm)."""

    successes: int
    trials: int
    rate: float | None
    rate_interval: Interval | None  # 95% Wilson score interval
    lift: float | None  # rate - control rate (absolute, in proportion points)
    lift_interval: Interval | None  # 95% Newcomb (hybrid score) interval of the difference
    relative_lift: float | None  # rate / control rate - 1
    relative_lift_interval: Interval | None  # 95% interval of the ratio (log/Katz), minus 1
    p_value: float | None  # two-sided two-proportion z-test (pooled)
    p_value_holm: float | None  # Holm-adjusted over the variants compared with the control
    significant: bool = False  # Holm-adjusted p below alpha


class VariantResult(_Report):
    variant: str
    entered: int
    control: bool  # the conversion control (the holdout when there is one)
    conversion: Comparison | None  # None: the journey has no goal
    clicks: Comparison | None  # None for the holdout (it receives nothing to click)


class ExperimentReport(_Report):
    journey_id: str
    split_step: str
    experiment: str
    period: ReportPeriod
    goal: GoalInfo | None
    generated_at: datetime
    alpha: float = 0.05
    min_per_arm: int = Field(description="entries every compared arm needs before a verdict")
    control: str  # conversion control: the holdout when there is one, else the first variant
    click_control: str | None  # clicks control: the first variant (the holdout gets nothing)
    enough_data: bool
    variants: list[VariantResult]
    verdict: str  # one sentence
    # The sentence's English text with placeholders and their values, for the console to show it
    # in the reader's language (`experiment_report.Verdict`); not part of the JSON.
    verdict_text: str = Field("", exclude=True)
    verdict_values: dict[str, str] = Field(default_factory=dict, exclude=True)
