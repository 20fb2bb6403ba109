"""The Temporal worker: journey workflows plus every activity, on one task queue."""

import asyncio
import logging
import signal
from datetime import timedelta
from email.utils import parseaddr

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from loyalflow.activities.channels import EmailChannel, SmsChannel
from loyalflow.activities.channels.dkim_signing import DkimSigner
from loyalflow.activities.channels.email import SmtpEmailChannel
from loyalflow.activities.channels.outbox import OutboxEmailChannel, OutboxSmsChannel
from loyalflow.activities.channels.sms import TwilioSmsChannel
from loyalflow.activities.enrollment import EnrollmentActivities
from loyalflow.activities.journey_steps import JourneyStepActivities
from loyalflow.activities.points_expiry import PointsExpiryActivities
from loyalflow.activities.rendering import TemplateRenderer
from loyalflow.activities.rollup import RollupActivities
from loyalflow.activities.segments import JourneySegmentActivities, SegmentActivities
from loyalflow.activities.send import SendActivities
from loyalflow.catalog.registry import get_catalog
from loyalflow.config import Settings, get_settings
from loyalflow.models.db import assert_schema_current
from loyalflow.observability.exposition import MetricsPortInUse
from loyalflow.routing.reroute import reroute_forever
from loyalflow.routing.schedules import ensure_schedules
from loyalflow.rules.loyalty import rules_from
from loyalflow.rules.messaging import policy_from
from loyalflow.runtime.connection import connect, ensure_search_attributes
from loyalflow.runtime.logs import configure_logging
from loyalflow.runtime.metrics import serve_worker_metrics
from loyalflow.runtime.runners import workflow_runner
from loyalflow.runtime.send_failures import SendFailureInterceptor, SendFailureLog
from loyalflow.workflows.daily_rollup import DailyRollupWorkflow
from loyalflow.workflows.journey import JourneyWorkflow
from loyalflow.workflows.retry_send import RetrySendWorkflow
from loyalflow.workflows.segment_sweep import SegmentSweepWorkflow

log = logging.getLogger("loyalflow.runtime.worker")


def email_channel(settings: Settings) -> EmailChannel:
    if settings.smtp_host:
        return SmtpEmailChannel(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            # Implicit TLS already encrypts: STARTTLS (on by default) only applies without it.
            start_tls=settings.smtp_starttls and not settings.smtp_tls,
            use_tls=settings.smtp_tls,
            pool_size=settings.smtp_pool_size,
            timeout=settings.smtp_timeout_seconds,
            message_id_domain=settings.message_id_domain,
            dkim=dkim_signer(settings),
        )
    return OutboxEmailChannel(settings.outbox_dir, settings.message_id_domain)


def dkim_signer(settings: Settings) -> DkimSigner | None:
    """The DKIM key, read and checked now (worker start), or None when signing is off."""
    if settings.dkim_private_key_file is None:
        return None
    assert settings.dkim_selector is not None  # Settings requires it with a key file
    sender_domain = parseaddr(settings.email_from)[1].rpartition("@")[2].lower()
    return DkimSigner.from_file(
        settings.dkim_private_key_file,
        selector=settings.dkim_selector,
        domain=settings.dkim_domain or sender_domain,
    )


def sms_channel(settings: Settings) -> SmsChannel:
    if settings.twilio_account_sid:
        if settings.twilio_auth_token is None:
            raise ValueError(
                "LOYALFLOW_TWILIO_AUTH_TOKEN is required with LOYALFLOW_TWILIO_ACCOUNT_SID"
            )
        return TwilioSmsChannel(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            from_number=settings.twilio_from,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            status_callback_url=f"{settings.public_url.rstrip('/')}/webhooks/twilio/status",
            api_base_url=settings.twilio_api_base_url,
        )
    return OutboxSmsChannel(settings.outbox_dir)


def build_worker(
    client: Client,
    settings: Settings,
    *,
    email: EmailChannel | None = None,
    sms: SmsChannel | None = None,
    sandboxed: bool = True,
    sandbox_journeys: bool = True,
    send_failures: SendFailureLog | None = None,
) -> Worker:
    """`sandboxed=False` is for simulations on a throwaway server only: no workflow runs in the
    sandbox, which costs a simulation of thousands of short runs most of its time.
    `sandbox_journeys=False` runs the journey interpreter alone outside it (the worker's
    default, `LOYALFLOW_WORKFLOW_SANDBOX`; see runtime/runners.py for why that is safe). Tests
    keep the defaults: every workflow test runs in the sandbox, which guards determinism."""
    url = settings.effective_database_url
    sends = SendActivities(
        database_url=url,
        renderer=TemplateRenderer(
            settings.templates_dir,
            settings.program_name,
            rules_from(settings.loyalty_rules_file).currency,
            settings.program_url,
        ),
        email_channel=email or email_channel(settings),
        sms_channel=sms or sms_channel(settings),
        email_from=settings.email_from,
        policy=policy_from(settings.messaging_policy_file),
        settings=settings,
    )
    enrollments = EnrollmentActivities(url)
    segments = SegmentActivities(client, settings)
    segment_journeys = JourneySegmentActivities(client, settings)
    points_expiry = PointsExpiryActivities(client, settings)
    steps = JourneyStepActivities(client, settings)
    rollups = RollupActivities(settings)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[JourneyWorkflow, SegmentSweepWorkflow, RetrySendWorkflow, DailyRollupWorkflow],
        activities=[
            sends.send_message,
            sends.abandon_message,
            enrollments.record_progress,
            enrollments.record_progress_batch,
            segments.sweep_inactive_page,
            segment_journeys.sweep_segment_page,
            points_expiry.sweep_points_expiry_page,
            points_expiry.sweep_requalification_page,
            steps.load_member_facts,
            steps.record_assignment,
            steps.apply_update,
            rollups.plan_rollup_days,
            rollups.rollup_one_day,
            rollups.refresh_kpi_snapshots,
        ],
        graceful_shutdown_timeout=timedelta(seconds=10),
        # Failed send attempts: one line each (repeats summarised), no traceback.
        interceptors=[SendFailureInterceptor(send_failures)],
        max_cached_workflows=settings.worker_max_cached_workflows,
        workflow_runner=workflow_runner(sandboxed=sandboxed, sandbox_journeys=sandbox_journeys),
    )


async def run_worker(settings: Settings) -> None:
    assert_schema_current(settings.effective_database_url)
    client = await connect(settings, wait_seconds=30)
    try:
        added = await ensure_search_attributes(client, settings.temporal_namespace)
        if added:
            log.info("registered search attributes %s", ", ".join(added))
    except RPCError as err:
        if err.status != RPCStatusCode.ALREADY_EXISTS:  # another worker registered them first
            log.warning("could not register search attributes (%s); see README", err.message)
    try:
        await ensure_schedules(
            client, settings, rules_from(settings.loyalty_rules_file), get_catalog(settings)
        )
    except RPCError as err:
        log.warning("could not create or update the sweep schedules: %s", err.message)
    email, sms = email_channel(settings), sms_channel(settings)
    if isinstance(email, SmtpEmailChannel) and email.dkim is not None:
        log.info("signing email with DKIM: d=%s s=%s", email.dkim.domain, email.dkim.selector)
    send_failures = SendFailureLog()
    worker = build_worker(
        client,
        settings,
        email=email,
        sms=sms,
        sandbox_journeys=settings.workflow_sandbox,
        send_failures=send_failures,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker polling task queue %r on %s (namespace %s)",
        settings.temporal_task_queue,
        settings.effective_temporal_address,
        settings.temporal_namespace,
    )
    async with worker:
        # Events whose routing was interrupted (crash, Temporal briefly down) are routed here.
        rerouter = asyncio.create_task(reroute_forever(client, settings))
        await stop.wait()
        rerouter.cancel()
    # After the worker drained its tasks: pooled SMTP connections and the Twilio session.
    for channel in (email, sms):
        if isinstance(channel, SmtpEmailChannel | TwilioSmsChannel):
            await channel.aclose()
    send_failures.flush()
    log.info("worker stopped")


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format)
    try:
        metrics = serve_worker_metrics(settings)  # before the first client: the SDK's metrics
    except MetricsPortInUse as exc:
        log.error("%s", exc)
        raise SystemExit(2) from None
    try:
        asyncio.run(run_worker(settings))
    finally:
        if metrics is not None:
            metrics.close()
