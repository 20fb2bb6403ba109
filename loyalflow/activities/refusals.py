"""What a provider's refusal says about the address, not the message: a mailbox that does not
exist, an invalid number, a number that replied STOP. Such an address is suppressed (and, for
Twilio 21610, SMS consent revoked), and the other channel may still reach the member."""

import asyncio

from temporalio import activity

from loyalflow.activities.channels import PermanentSendError
from loyalflow.activities.channels.sms import UNSUBSCRIBED_RECIPIENT
from loyalflow.config import Settings
from loyalflow.members.consent import TWILIO_OPTED_OUT, sms_opt_out, suppress

# Provider codes that say the address itself is bad: never try it again.
SUPPRESSING_CODES = {
    "email": {550: "mailbox does not exist", 551: "user not local", 553: "address rejected"},
    # The TWILIO_OPTED_OUT prefix is what lets a later START keyword lift it.
    "sms": {21211: "invalid phone number", 21610: f"{TWILIO_OPTED_OUT}: recipient replied STOP"},
}


async def act_on_refusal(
    settings: Settings,
    channel: str,
    message_id: str,
    address: str,
    error: PermanentSendError,
) -> bool:
    """Suppresses an address the provider says is bad; for Twilio 21610 (the number replied
    STOP to our sender), also revokes SMS consent, like the inbound STOP we never received.
    Called from the send activity: the opt-out's consent events need its Temporal client.
    True when the refusal was about the address (so another channel may still reach them)."""
    reason = SUPPRESSING_CODES[channel].get(error.code or 0)
    if reason is None:
        return False
    reason = f"{reason} ({error.code})"
    if channel == "sms" and error.code == UNSUBSCRIBED_RECIPIENT:
        # The same path as the STOP keyword and a 21610 delivery report: the number is
        # suppressed, and every SMS topic its members granted is revoked, as
        # `consent.updated` events with the source TWILIO_OPTED_OUT, which a START undoes.
        await sms_opt_out(
            activity.client(),
            settings,
            address,
            source=TWILIO_OPTED_OUT,
            key=f"{TWILIO_OPTED_OUT}|{message_id}",
            reason=reason,
        )
    else:
        url = settings.effective_database_url
        await asyncio.to_thread(suppress, url, address, channel, reason)
    return True
