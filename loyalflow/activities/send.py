"""The send activity: decide, record, render, then deliver, so that a retry never sends twice.

The steps of one send and the outcome each one records (ledger row and metrics) read together,
in the order they happen; what a provider's refusal means for the address is `refusals.py`.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Concatenate, ParamSpec, TypeVar

from jinja2 import TemplateError
from temporalio import activity

from loyalflow.activities import ledger
from loyalflow.activities.channels import (
    AmbiguousSendError,
    EmailChannel,
    OutgoingEmail,
    OutgoingSms,
    PermanentSendError,
    SmsChannel,
    TransientSendError,
)
from loyalflow.activities.decision import Decision, decide
from loyalflow.activities.refusals import act_on_refusal
from loyalflow.activities.rendering import TemplateNotFound, TemplateRenderer
from loyalflow.activities.tracking_links import LinkTracker, TrackedLinks, store_links
from loyalflow.config import Settings
from loyalflow.models.tables import MessageStatus
from loyalflow.models.workflow_io import AbandonRequest, SendRequest, SendResult
from loyalflow.observability.metrics import count_message, send_duration
from loyalflow.rules.loyalty import rules_from
from loyalflow.rules.messaging import MessagingPolicy
from loyalflow.security.tokens import preferences_url, unsubscribe_url
from loyalflow.security.verp import verp_address

log = logging.getLogger(__name__)
HEARTBEAT_EVERY_SECONDS = 2.0
P = ParamSpec("P")
R = TypeVar("R")


class SendActivities:
    def __init__(
        self,
        database_url: str,
        renderer: TemplateRenderer,
        email_channel: EmailChannel,
        sms_channel: SmsChannel,
        email_from: str,
        policy: MessagingPolicy,
        settings: Settings,
    ) -> None:
        self.settings = settings  # signs unsubscribe and preference links
        self.database_url = database_url
        self.renderer = renderer
        self.email_channel = email_channel
        self.sms_channel = sms_channel
        self.email_from = email_from
        self.policy = policy
        self.tracker = LinkTracker(settings, policy)

    async def _db(
        self, fn: Callable[Concatenate[str, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        # The database layer is synchronous; keep it off the worker's event loop.
        return await asyncio.to_thread(fn, self.database_url, *args, **kwargs)

    @activity.defn(name="send_message")
    async def send_message(self, request: SendRequest) -> SendResult:
        # Beats from a side task, the first after 2 s (a quicker send costs no heartbeat write):
        # a dead worker stops beating and the server retries within the heartbeat timeout.
        beating = asyncio.create_task(_heartbeat_forever())
        try:
            return await self._send(request)
        finally:
            beating.cancel()

    async def _send(self, request: SendRequest) -> SendResult:
        earlier = await self._db(
            ledger.earlier_outcome, request.message_id, self.settings.interrupted_send
        )
        if earlier is not None:
            log.info("message %s already %s; not sending again", request.message_id, earlier.status)
            return earlier
        # The server's clock for this attempt: the workflow's clock, also in skipped time.
        now = activity.info().current_attempt_scheduled_time
        ladder = rules_from(self.settings.loyalty_rules_file).tiers
        decision = await self._db(decide, request, self.policy, now, ladder)
        if decision.action != "send":
            count_message(
                request.channel,
                "skipped" if decision.action == "skip" else "deferred",
                decision.code,
            )
        if decision.action == "skip":
            return SendResult(
                message_id=request.message_id,
                status="skipped",
                reason=decision.reason,
                fallback_ok=decision.fallback_ok,
            )
        if decision.action == "defer":
            return SendResult(
                message_id=request.message_id,
                status="deferred",
                reason=decision.reason,
                retry_at=decision.retry_at,
            )
        return await self._deliver_to_the_end(request, decision, now)

    async def _deliver_to_the_end(
        self, request: SendRequest, decision: Decision, now: datetime
    ) -> SendResult:
        """Delivers; a cancellation (heartbeat timeout of an overloaded worker, shutdown) stops
        a send still waiting for a connection, but lets one the provider may already have finish
        its conversation and record the outcome, so the retry finds a final row, not an
        ambiguous `sending` one. Only a killed process leaves a row ambiguous."""
        handed = asyncio.Event()
        delivery = asyncio.create_task(self._deliver(request, decision, now, handed))
        try:
            return await asyncio.shield(delivery)
        except asyncio.CancelledError:
            if handed.is_set():
                await asyncio.wait({delivery}, timeout=self.settings.smtp_timeout_seconds * 2)
            else:
                delivery.cancel()
                await asyncio.wait({delivery})
            raise

    async def _deliver(
        self, request: SendRequest, decision: Decision, now: datetime, handed: asyncio.Event
    ) -> SendResult:
        assert decision.address is not None and decision.member is not None
        channel = self.email_channel if request.channel == "email" else self.sms_channel
        try:
            if request.channel == "email":
                email, locale, links = self._email(request, decision)
                await self._db(store_links, links)
                handover = self._handover(request, handed, locale, email.subject)
                accepted = self._accepted(request, channel.name, now)
                with send_duration.labels(channel=request.channel).time():
                    provider_id = await self.email_channel.send(email, handover, accepted)
            else:
                sms, locale, links = self._sms(request, decision)
                await self._db(store_links, links)
                handover = self._handover(request, handed, locale)
                with send_duration.labels(channel=request.channel).time():
                    provider_id = await self.sms_channel.send(sms, handover)
        except (TemplateError, TemplateNotFound) as exc:
            # A broken template will not fix itself on retry; record it for the marketer.
            count_message(request.channel, "failed", "template_error")
            return await self._db(
                ledger.finish, request, MessageStatus.FAILED, reason=f"template: {exc}"
            )
        except AmbiguousSendError as exc:
            # The server may have queued it: another attempt could deliver it twice.
            count_message(request.channel, "failed", "ambiguous")
            reason = f"the provider may have accepted it ({exc}); not re-sent, to avoid a duplicate"
            return await self._db(
                ledger.finish, request, MessageStatus.FAILED, reason=reason, ambiguous=True
            )
        except PermanentSendError as exc:
            count_message(request.channel, "failed", "provider_rejected")
            # Before the row is final: a retry after a crash here finds it `sending` and does
            # not send blindly, so this is the only chance to record what the refusal says.
            # The address is bad or opted out, not the message: the other channel may reach them.
            bad_address = await act_on_refusal(
                self.settings, request.channel, request.message_id, decision.address, exc
            )
            return await self._db(
                ledger.finish,
                request,
                MessageStatus.FAILED,
                reason=str(exc),
                fallback_ok=bad_address,
            )
        except TransientSendError as exc:
            count_message(request.channel, "retrying", "provider_unavailable")
            # Not accepted by the provider: safe to try again, so the row leaves `sending`.
            await self._db(ledger.mark, request, MessageStatus.DEFERRED, reason=f"retrying: {exc}")
            raise
        count_message(request.channel, "sent")
        return await self._db(
            ledger.finish,
            request,
            MessageStatus.SENT,
            provider_id=provider_id,
            reason=f"via {channel.name}",
            at=now,
        )

    def _handover(
        self, request: SendRequest, handed: asyncio.Event, locale: str, subject: str | None = None
    ) -> Callable[[], Awaitable[None]]:
        """Marks the row `sending` once the channel holds a connection, right before the provider
        may have the message; a message still waiting for a connection stays `ready`."""

        async def handed_over() -> None:
            # Set first: a cancellation arriving during the write must wait for the send.
            handed.set()
            await self._db(ledger.hand_over, request, locale=locale, subject=subject)

        return handed_over

    def _accepted(
        self, request: SendRequest, channel_name: str, now: datetime
    ) -> Callable[[str], Awaitable[None]]:
        """Records `sent` while the channel still holds the connection (see SmtpEmailChannel)."""

        async def record(provider_id: str) -> None:
            await self._db(
                ledger.finish,
                request,
                MessageStatus.SENT,
                provider_id=provider_id,
                reason=f"via {channel_name}",
                at=now,
            )

        return record

    def _email(
        self, request: SendRequest, decision: Decision
    ) -> tuple[OutgoingEmail, str, TrackedLinks]:
        assert decision.address is not None and decision.member is not None
        unsubscribe = unsubscribe_url(
            self.settings, request.member_id, "email", request.topic, request.message_id
        )
        links = {
            "unsubscribe": unsubscribe,
            "preferences": preferences_url(self.settings, request.member_id),
        }
        rendered = self.renderer.render_email(
            request.template,
            decision.locale,
            decision.member,
            decision.timezone,
            links,
            variant=request.variant,
            trigger=request.trigger,
            params=request.params,
        )
        rendered, tracked = self.tracker.track_email(request, rendered, set(links.values()))
        email = OutgoingEmail(
            message_id=request.message_id,
            sender=self.email_from,
            recipient=decision.address,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            list_unsubscribe_url=unsubscribe,
            list_unsubscribe_mailto=self.settings.unsubscribe_mailto,
            envelope_from=verp_address(self.settings, request.message_id),
        )
        return email, rendered.locale, tracked

    def _sms(
        self, request: SendRequest, decision: Decision
    ) -> tuple[OutgoingSms, str, TrackedLinks]:
        assert decision.address is not None and decision.member is not None
        rendered = self.renderer.render_sms(
            request.template,
            decision.locale,
            decision.member,
            decision.timezone,
            variant=request.variant,
            trigger=request.trigger,
            params=request.params,
        )
        body, tracked = self.tracker.track_sms(request, rendered.body)
        sms = OutgoingSms(message_id=request.message_id, to=decision.address, body=body)
        return sms, rendered.locale, tracked

    @activity.defn(name="abandon_message")
    async def abandon_message(self, request: AbandonRequest) -> None:
        """A deferred message whose journey ended before it could go: closed with the reason."""
        if await self._db(ledger.earlier_outcome, request.message_id) is None:
            channel = await self._db(ledger.close, request.message_id, request.reason)
            if channel is not None:
                count_message(channel, "skipped", "abandoned")


async def _heartbeat_forever() -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_EVERY_SECONDS)
        activity.heartbeat()
