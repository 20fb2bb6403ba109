"""VERP envelope senders: `bounces+<message id>@<LOYALFLOW_BOUNCE_DOMAIN>`.

A bounce goes to the envelope sender, so the address it comes back to names the message even
when the report itself quotes nothing useful (many do not).
"""

import re

from loyalflow.config import Settings

VERP_LOCAL_PREFIX = "bounces+"
_VERP = re.compile(r"^bounces\+([A-Za-z0-9._-]{1,64})@", re.IGNORECASE)


def verp_address(settings: Settings, message_id: str) -> str | None:
    """None when no bounce domain is set: the From address is then the envelope sender."""
    if not settings.bounce_domain:
        return None
    return f"{VERP_LOCAL_PREFIX}{message_id}@{settings.bounce_domain}"


def message_id_from_verp(address: str) -> str | None:
    match = _VERP.match(address.strip().strip("<>"))
    return match.group(1) if match else None
