"""Send outcomes as metrics: counted where the send happens, once, with a bounded reason code."""

from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from loyalflow.activities.channels import TransientSendError
from loyalflow.activities.enrollment import record_progress_batch_sync
from loyalflow.activities.send import SendActivities
from loyalflow.config import Settings
from loyalflow.models.workflow_io import ProgressBatch, ProgressUpdate
from tests.activities.test_send import at, request_for, send_activities
from tests.journey_helpers import create_member
from tests.smtp_server import SmtpServer
from tests.worker_helpers import plain_smtp


@pytest.fixture
def sends(settings: Settings, smtp_server: SmtpServer) -> SendActivities:
    return send_activities(settings, plain_smtp(smtp_server))


def messages_total(outcome: str, reason: str = "", channel: str = "email") -> float:
    labels = {"channel": channel, "outcome": outcome, "reason": reason}
    return REGISTRY.get_sample_value("loyalflow_messages_total", labels) or 0.0


def sends_timed() -> float:
    labels = {"channel": "email"}
    return REGISTRY.get_sample_value("loyalflow_send_duration_seconds_count", labels) or 0.0


async def test_a_sent_message_counts_once_even_when_its_activity_is_retried(
    settings: Settings, sends: SendActivities, member_id: str
) -> None:
    create_member(settings, member_id, email="ann@example.com")
    request = request_for(member_id)
    sent, timed = messages_total("sent"), sends_timed()

    await at().run(sends.send_message, request)
    await at().run(sends.send_message, request)  # the retry finds the row sent

    assert messages_total("sent") == sent + 1
    assert sends_timed() == timed + 1


async def test_a_transient_refusal_counts_as_retrying_then_sent(
    settings: Settings, sends: SendActivities, smtp_server: SmtpServer, member_id: str
) -> None:
    create_member(settings, member_id, email="ben@example.com")
    request = request_for(member_id)
    retrying, sent = messages_total("retrying", "provider_unavailable"), messages_total("sent")
    smtp_server.refuse_next("451 4.3.0 Try again later")

    with pytest.raises(TransientSendError):
        await at().run(sends.send_message, request)
    await at().run(sends.send_message, request)

    assert messages_total("retrying", "provider_unavailable") == retrying + 1
    assert messages_total("sent") == sent + 1


@pytest.mark.parametrize(
    ("has_email", "refusal", "outcome", "reason"),
    [
        (False, None, "skipped", "no_address"),
        (True, "550 5.1.1 No such user", "failed", "provider_rejected"),
    ],
)
async def test_a_message_not_sent_counts_with_its_reason_code(
    settings: Settings,
    sends: SendActivities,
    smtp_server: SmtpServer,
    member_id: str,
    has_email: bool,
    refusal: str | None,
    outcome: str,
    reason: str,
) -> None:
    # An address of its own: a 550 suppresses the address for every later test too.
    create_member(settings, member_id, email=f"{member_id}@example.com" if has_email else None)
    if refusal:
        smtp_server.refuse_next(refusal)
    before = messages_total(outcome, reason)

    result = await at().run(sends.send_message, request_for(member_id))

    assert result.status == outcome
    assert messages_total(outcome, reason) == before + 1


def journey_counts(journey: str, reason: str) -> tuple[float, float]:
    entered = REGISTRY.get_sample_value("loyalflow_journeys_entered_total", {"journey": journey})
    exited = REGISTRY.get_sample_value(
        "loyalflow_journeys_exited_total", {"journey": journey, "reason": reason}
    )
    return entered or 0.0, exited or 0.0


def test_journey_entries_and_exits_count_once_and_support_words_stay_out_of_labels(
    settings: Settings, member_id: str
) -> None:
    at_ = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
    run = {
        "workflow_id": f"journey-metrics_test-{member_id}",
        "journey_id": "metrics_test",
        "journey_version": "v1",
        "member_id": member_id,
        "entry": 1,
        "trigger_event_id": None,
        "at": at_,
    }
    create_member(settings, member_id)
    batch = ProgressBatch(
        updates=[
            ProgressUpdate(**run, entering=True, current_step="hello"),
            ProgressUpdate(**run, exit_reason="exited by ana@example.com: member asked by phone"),
        ]
    )
    entered, exited = journey_counts("metrics_test", "requested")

    record_progress_batch_sync(settings.effective_database_url, batch)
    # The activity retried after its commit (a lost completion): nothing counts twice.
    record_progress_batch_sync(settings.effective_database_url, batch)

    assert journey_counts("metrics_test", "requested") == (entered + 1, exited + 1)
    labels = {
        value
        for metric in REGISTRY.collect()
        for sample in metric.samples
        for value in sample.labels.values()
    }
    assert not any("ana@example.com" in value or member_id in value for value in labels)
