"""The Prometheus metrics loyalflow records, on prometheus_client's default registry.

Each process (API, worker, CLI) counts what happens in it; `GET /metrics` on the API and each
worker's metrics port expose that process's figures. Every label takes values from a bounded
set (event types are declared, journey ids come from the catalog, reasons are the codes below):
no member id, address or free text ever becomes a label, so the series count stays small.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Literal

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# Why a message was not sent, or how its sending went: a bounded code, the ledger keeps the words.
MessageOutcome = Literal["sent", "skipped", "deferred", "failed", "retrying"]
MessageReason = Literal[
    "",  # sent: no reason
    "member_missing",
    "no_address",
    "suppressed",
    "no_consent",
    "no_consent_rule",
    "too_late",  # held by quiet hours or a cap past the deferral expiry
    "quiet_hours",
    "frequency_cap",
    "abandoned",  # a held message whose journey ended, or whose retries gave up
    "template_error",
    "ambiguous",  # the provider may have taken it: not re-sent
    "provider_rejected",
    "provider_unavailable",  # a transient provider error: Temporal retries the send
]
ExitKind = Literal["completed", "exit_step", "exit_when", "holdout", "requested"]

# Seconds from a few milliseconds (routing in the request) to minutes (the re-router's passes).
ROUTING_LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

events_ingested = Counter(
    "loyalflow_events_ingested",
    "Events stored (new ones: duplicates by event_id are not counted), by type; includes the "
    "events loyalflow derives (purchase.first, tier.upgraded...).",
    ["type"],
)
routing_lag = Histogram(
    "loyalflow_routing_lag_seconds",
    "Time from an event's arrival (received_at) to the end of its routing to journeys (started "
    "and signalled). Events routed by the re-router after an interruption show here as long lags.",
    buckets=ROUTING_LAG_BUCKETS,
)
http_request_duration = Histogram(
    "loyalflow_http_request_duration_seconds",
    "API request latency, by method, route template (/members/{member_id}, never the raw path) "
    "and status code.",
    ["method", "route", "status"],
)
messages = Counter(
    "loyalflow_messages",
    "Send attempts by channel, outcome (sent, skipped, deferred, failed, retrying) and reason code.",
    ["channel", "outcome", "reason"],
)
send_duration = Histogram(
    "loyalflow_send_duration_seconds",
    "Time the provider call takes (SMTP conversation, Twilio request, outbox write), by channel, "
    "whatever its outcome; includes waiting for a pooled connection.",
    ["channel"],
)
journeys_entered = Counter(
    "loyalflow_journeys_entered",
    "Journey runs that started their first step, by journey id.",
    ["journey"],
)
journeys_exited = Counter(
    "loyalflow_journeys_exited",
    "Journey runs that ended, by journey id and kind of exit (completed, exit_step, exit_when, "
    "holdout, requested).",
    ["journey", "reason"],
)


def count_ingested(event_types: Iterable[str]) -> None:
    for event_type in event_types:
        events_ingested.labels(type=event_type).inc()


def count_message(channel: str, outcome: MessageOutcome, reason: MessageReason = "") -> None:
    messages.labels(channel=channel, outcome=outcome, reason=reason).inc()


def exit_kind(reason: str) -> ExitKind:
    """A run's exit reason in words ("exit_when: purchase", "exited by ana: asked to stop", an
    exit step's own reason...) as one of a few kinds, so a label never carries free text."""
    if reason == "completed":
        return "completed"
    if reason == "holdout":
        return "holdout"
    if reason.startswith("exit_when:"):
        return "exit_when"
    if reason.startswith("exited by "):
        return "requested"
    return "exit_step"


class EventsPending(Collector):
    """`loyalflow_events_pending`, counted in the database at each scrape (the API's /metrics):
    a figure for the whole program, whichever process stored the events."""

    def __init__(self, count: Callable[[], int]) -> None:
        self._count = count

    def collect(self) -> Iterator[Metric]:
        try:
            pending = self._count()
        except Exception:  # the database is down: /healthz says so; the other metrics still go
            log.warning("could not count the events pending routing", exc_info=True)
            return
        yield GaugeMetricFamily(
            "loyalflow_events_pending",
            "Events stored but not routed to journeys yet: routing in flight, or left to the "
            "worker's re-router (after an interruption, or while Temporal is unreachable).",
            value=pending,
        )
