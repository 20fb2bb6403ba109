"""The send activity: decide, record, then deliver, so that a retry never sends twice."""

import asyncio
import logging
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from jinja2 import TemplateError
from temporalio import activity

from loyalflow.activities import ledger
from loyalflow.activities.channels import (
    EmailChannel,
    OutgoingEmail,
    PermanentSendError,
    TransientSendError,
)
from loyalflow.activities.rendering import TemplateNotFound, TemplateRenderer
from loyalflow.models.tables import MessageStatus
from loyalflow.models.workflow_io import SendRequest, SendResult

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


class SendActivities:
    def __init__(
        self,
        database_url: str,
        renderer: TemplateRenderer,
        email_channel: EmailChannel,
        email_from: str,
    ) -> None:
        self.database_url = database_url
        self.renderer = renderer
        self.email_channel = email_channel
        self.email_from = email_from

    async def _db(
        self, fn: Callable[Concatenate[str, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        # The database layer is synchronous; keep it off the worker's event loop.
        return await asyncio.to_thread(fn, self.database_url, *args, **kwargs)

    @activity.defn(name="send_message")
    async def send_message(self, request: SendRequest) -> SendResult:
        earlier = await self._db(ledger.earlier_outcome, request.message_id)
        if earlier is not None:
            log.info("message %s already %s; not sending again", request.message_id, earlier.status)
            return earlier

        recipient = await self._db(ledger.load_recipient, request.member_id)
        if recipient is None:
            return await self._skip(request, "member no longer exists")
        if not recipient.email:
            return await self._skip(request, "no email address")

        try:
            rendered = self.renderer.render_email(
                request.template, recipient.locale, recipient.context, recipient.timezone
            )
        except (TemplateError, TemplateNotFound) as exc:
            # A broken template will not fix itself on retry; record it for the marketer.
            return await self._db(
                ledger.finish, request, MessageStatus.FAILED, reason=f"template: {exc}"
            )
        email = OutgoingEmail(
            message_id=request.message_id,
            sender=self.email_from,
            recipient=recipient.email,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
        )
        # The row exists before the provider is called: this is what makes retries safe.
        await self._db(
            ledger.mark,
            request,
            MessageStatus.SENDING,
            locale=rendered.locale,
            subject=rendered.subject,
        )
        try:
            provider_id = await self.email_channel.send(email)
        except PermanentSendError as exc:
            return await self._db(ledger.finish, request, MessageStatus.FAILED, reason=str(exc))
        except TransientSendError as exc:
            # Not accepted by the provider: safe to try again, so the row leaves `sending`.
            await self._db(ledger.mark, request, MessageStatus.DEFERRED, reason=f"retrying: {exc}")
            raise
        return await self._db(
            ledger.finish,
            request,
            MessageStatus.SENT,
            provider_id=provider_id,
            reason=f"via {self.email_channel.name}",
            # The server's clock, not the worker's: in skipped (simulated) time they differ.
            at=activity.info().current_attempt_scheduled_time,
        )

    async def _skip(self, request: SendRequest, reason: str) -> SendResult:
        return await self._db(ledger.finish, request, MessageStatus.SKIPPED, reason=reason)
