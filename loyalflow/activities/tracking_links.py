"""Tracked links and the open pixel, put into a message once it is rendered (issue 16).

Every `http(s)` link of the HTML part (`<a href>`) and of the text part becomes
`{public_url}/t/c/<token>`; the same destination gets the same position in both parts, so a
click in either counts once. The unsubscribe and preference links (and so `List-Unsubscribe`,
which is built apart from the body) are never rewritten: a scanner that follows every link
must not reach them through us, and they must work without us. SMS links become
`{public_url}/t/s/<token>` when `LOYALFLOW_TRACKING_SMS_LINKS` is on.

The HTML is loyalflow's own rendered template, whose attribute values Jinja escapes, so the
`href="..."` attributes are found with one pattern rather than by re-serialising the document
through a parser (which would change the markup email clients see).
"""

import html
import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from loyalflow.activities.rendering import RenderedEmail
from loyalflow.config import Settings
from loyalflow.models.db import session_scope
from loyalflow.models.tracking_tables import MessageLink
from loyalflow.models.workflow_io import SendRequest
from loyalflow.rules.messaging import MessagingPolicy
from loyalflow.security.tracking_tokens import click_url, pixel_url, sms_url

_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
_TEXT_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}"
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class TrackedLinks:
    """The destinations by position, to store with the message before it is sent."""

    message_id: str
    urls: list[str]


class LinkTracker:
    def __init__(self, settings: Settings, policy: MessagingPolicy) -> None:
        self.settings = settings
        self.policy = policy

    def tracks(self, request: SendRequest) -> bool:
        return self.settings.tracking != "off" and self.policy.tracked(request.topic)

    def track_email(
        self, request: SendRequest, email: RenderedEmail, keep: set[str]
    ) -> tuple[RenderedEmail, TrackedLinks]:
        """`keep`: the URLs never rewritten (the member's unsubscribe and preference links)."""
        links = TrackedLinks(request.message_id, [])
        if not self.tracks(request):
            return email, links
        positions: dict[str, int] = {}

        def tracked(original: str) -> str | None:
            if original in keep:
                return None
            destination = self._with_utm(original, request)
            if destination not in positions:
                positions[destination] = len(links.urls)
                links.urls.append(destination)
            return click_url(self.settings, request.message_id, positions[destination])

        def in_html(match: re.Match[str]) -> str:
            new = tracked(html.unescape(match.group(3)))
            if new is None:
                return match.group(0)
            return f"{match.group(1)}{match.group(2)}{html.escape(new)}{match.group(2)}"

        def in_text(match: re.Match[str]) -> str:
            url, tail = _split_trailing(match.group(0))
            new = tracked(url)
            return match.group(0) if new is None else new + tail

        body = _HREF.sub(in_html, email.html)
        if self.settings.tracking == "on":
            body = _with_pixel(body, pixel_url(self.settings, request.message_id))
        text = _TEXT_URL.sub(in_text, email.text)
        return replace(email, html=body, text=text), links

    def track_sms(self, request: SendRequest, body: str) -> tuple[str, TrackedLinks]:
        if not (self.settings.tracking_sms_links and self.tracks(request)):
            return body, TrackedLinks(request.message_id, [])
        return self.shorten_sms(request, body)

    def shorten_sms(self, request: SendRequest, body: str) -> tuple[str, TrackedLinks]:
        """Every link as `/t/s/<token>` (also what `preview` counts segments on)."""
        links = TrackedLinks(request.message_id, [])

        def shortened(match: re.Match[str]) -> str:
            url, tail = _split_trailing(match.group(0))
            links.urls.append(self._with_utm(url, request))
            return sms_url(self.settings, request.message_id, len(links.urls) - 1) + tail

        return _TEXT_URL.sub(shortened, body), links

    def _with_utm(self, url: str, request: SendRequest) -> str:
        """Adds utm_* parameters the link does not already carry."""
        source = self.settings.tracking_utm_source
        if not source:
            return url
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        present = {key for key, _ in query}
        content = request.step_id + (f"-{request.variant}" if request.variant else "")
        utm = {
            "utm_source": source,
            "utm_medium": request.channel,
            "utm_campaign": request.journey_id,
            "utm_content": content,
        }
        query += [(key, value) for key, value in utm.items() if key not in present]
        return urlunsplit(parts._replace(query=urlencode(query)))


def _split_trailing(url: str) -> tuple[str, str]:
    """A sentence's full stop or closing bracket after a URL in text is not part of it."""
    stripped = url.rstrip(_TRAILING)
    return stripped, url[len(stripped) :]


def _with_pixel(body: str, src: str) -> str:
    pixel = (
        f'<img src="{html.escape(src)}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;">'
    )
    ends = list(_BODY_END.finditer(body))
    if not ends:
        return body + pixel
    at = ends[-1].start()
    return body[:at] + pixel + body[at:]


def store_links(url: str, links: TrackedLinks) -> None:
    """Idempotent: a retried send renders the same links at the same positions."""
    if not links.urls:
        return
    with session_scope(url) as session:
        for position, destination in enumerate(links.urls):
            row = session.get(MessageLink, (links.message_id, position))
            if row is None:
                session.add(
                    MessageLink(message_id=links.message_id, position=position, url=destination)
                )
            else:
                row.url = destination
                session.add(row)
