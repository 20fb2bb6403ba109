"""People or machines: the rules that flag each open and click, in one place (issue 16).

Applied in this order; the first that matches decides, and its name is stored with the hit:

- `apple_mpp`: an open fetched by Apple Mail Privacy Protection, which loads every message's
  images on Apple's servers whether or not anyone reads it: the address is in Apple's network
  (17.0.0.0/8) or the user agent is the bare `Mozilla/5.0` its proxy sends.
- `bot:head`: a `HEAD` request (link checkers; a browser GETs).
- `bot:user_agent`: a user agent naming a known scanner, crawler or security gateway, or none.
- `bot:too_soon`: within `LOYALFLOW_TRACKING_BOT_SECONDS` of the message leaving: gateways
  fetch on arrival, before anyone could have read it.
- `bot:all_links`: a message with two or more links whose every link was clicked within one
  second: only a scanner clicks everything at once.
- `human` otherwise.

Gmail's image proxy (`GoogleImageProxy`) fetches when the reader opens the mail, so its opens
count as human. A human click also counts as a human open.
"""

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")
APPLE_PROXY_USER_AGENT = "Mozilla/5.0"
SCANNER_MARKERS = (
    "bot",
    "crawler",
    "spider",
    "barracuda",
    "mimecast",
    "proofpoint",
    "symantec",
    "messagelabs",
    "trend micro",
    "fortiguard",
    "safelinks",
    "microsoft office",  # Outlook's link preview fetch
    "python-requests",
    "curl/",
    "wget",
    "go-http-client",
    "headlesschrome",
    "phantomjs",
    "slackbot",
)
BURST_WINDOW = timedelta(seconds=1)


@dataclass(frozen=True)
class Hit:
    kind: str  # open | click | sms_click
    method: str
    user_agent: str | None
    ip_prefix: str | None
    at: datetime


@dataclass(frozen=True)
class MessageFacts:
    sent_at: datetime | None
    link_count: int
    # Positions clicked (other hits of this message) within BURST_WINDOW before this hit.
    recent_click_positions: frozenset[int]


@dataclass(frozen=True)
class Verdict:
    rule: str
    apple_mpp: bool = False
    bot: bool = False

    @property
    def human(self) -> bool:
        return not (self.apple_mpp or self.bot)


def truncate_ip(address: str | None) -> str | None:
    """An IPv4 address to its /24, an IPv6 one to its /48; never the full address."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _in_apple_network(prefix: str | None) -> bool:
    if not prefix:
        return False
    try:
        return ipaddress.ip_network(prefix).subnet_of(APPLE_NETWORK)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False


def classify(hit: Hit, message: MessageFacts, position: int | None, bot_seconds: float) -> Verdict:
    agent = (hit.user_agent or "").strip()
    if hit.kind == "open" and (_in_apple_network(hit.ip_prefix) or agent == APPLE_PROXY_USER_AGENT):
        return Verdict("apple_mpp", apple_mpp=True)
    if hit.method.upper() == "HEAD":
        return Verdict("bot:head", bot=True)
    lowered = agent.lower()
    if not agent or any(marker in lowered for marker in SCANNER_MARKERS):
        return Verdict("bot:user_agent", bot=True)
    if message.sent_at is not None and hit.at - message.sent_at < timedelta(seconds=bot_seconds):
        return Verdict("bot:too_soon", bot=True)
    if hit.kind != "open" and position is not None and message.link_count >= 2:
        clicked = message.recent_click_positions | {position}
        if len(clicked) >= message.link_count:
            return Verdict("bot:all_links", bot=True)
    return Verdict("human")
