"""Reading bounce mail: RFC 3464 delivery status notifications and RFC 5965 (ARF) complaints.

Pure parsing with the standard library's `email` package, which already splits a
`message/delivery-status` part into its per-message and per-recipient field blocks. Anything
that is neither (an auto-reply, a bounce in free text) is `unrelated` or `malformed`, never an
exception: the receiver keeps the raw mail for inspection.
"""

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from typing import Literal

ReportKind = Literal["permanent", "temporary", "delivered", "complaint", "malformed", "unrelated"]
_MESSAGE_ID = re.compile(r"<([A-Za-z0-9._-]{1,64})@[^>]*>")
_STATUS = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")


@dataclass(frozen=True)
class Report:
    kind: ReportKind
    recipient: str | None = None
    status: str | None = None
    detail: str | None = None
    original_message_id: str | None = None  # from the returned headers, when present


def _address(value: str | None) -> str | None:
    """`rfc822; alice@example.com` -> `alice@example.com`."""
    if not value:
        return None
    address = value.split(";", 1)[-1].strip().strip("<>")
    return address or None


def _original_message_id(report: Message) -> str | None:
    for part in report.walk():
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                headers = payload[0]
                found = headers.get("Message-ID") if isinstance(headers, Message) else None
            else:
                text = part.get_payload(decode=True)
                data = text if isinstance(text, bytes) else b""
                found = message_from_bytes(data, policy=policy.compat32).get("Message-ID")
            match = _MESSAGE_ID.search(str(found or ""))
            if match:
                return match.group(1)
    return None


def _delivery_status(report: Message, original: str | None) -> list[Report]:
    part = next(
        (p for p in report.walk() if p.get_content_type() == "message/delivery-status"), None
    )
    if part is None:
        return [Report("malformed", detail="multipart/report without a delivery-status part")]
    blocks = part.get_payload()
    if not isinstance(blocks, list) or len(blocks) < 2:
        return [Report("malformed", detail="delivery-status part without a recipient block")]
    found: list[Report] = []
    for block in blocks[1:]:  # the first block is about the message, the rest per recipient
        if not isinstance(block, Message):
            continue
        action = str(block.get("Action", "")).strip().lower()
        status_match = _STATUS.search(str(block.get("Status", "")))
        status = status_match.group(0) if status_match else None
        recipient = _address(block.get("Final-Recipient") or block.get("Original-Recipient"))
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split()) or None
        if action == "failed" or (status or "").startswith("5"):
            kind: ReportKind = "permanent"
        elif action in ("delayed", "relayed") or (status or "").startswith("4"):
            kind = "temporary"
        elif action in ("delivered", "expanded"):
            kind = "delivered"
        else:
            kind = "malformed"
        found.append(Report(kind, recipient, status, diagnostic and diagnostic[:1000], original))
    return found


def _feedback(report: Message, original: str | None) -> list[Report]:
    part = next(
        (p for p in report.walk() if p.get_content_type() == "message/feedback-report"), None
    )
    if part is None:
        return [Report("malformed", detail="feedback report without a feedback-report part")]
    payload = part.get_payload()
    fields = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(fields, Message):
        return [Report("malformed", detail="unreadable feedback-report part")]
    feedback_type = str(fields.get("Feedback-Type", "")).strip().lower()
    recipient = _address(fields.get("Original-Rcpt-To"))
    if feedback_type not in ("abuse", "fraud", "virus", "other"):
        return [
            Report("unrelated", recipient, detail=f"Feedback-Type {feedback_type or 'missing'}")
        ]
    agent = str(fields.get("User-Agent", "")).strip()
    return [Report("complaint", recipient, None, f"{feedback_type} via {agent}"[:1000], original)]


def parse_report(raw: bytes) -> list[Report]:
    """One report per recipient the mail speaks of; at least one."""
    try:
        mail = message_from_bytes(raw, policy=policy.compat32)
    except Exception as exc:  # the parser is lenient, but never let one mail stop the receiver
        return [Report("malformed", detail=f"unparseable: {exc}")]
    if mail.get_content_type() != "multipart/report":
        subject = str(mail.get("Subject", ""))[:200]
        return [Report("malformed", detail=f"not a multipart/report: {subject!r}")]
    original = _original_message_id(mail)
    report_type = str(mail.get_param("report-type", "") or "").lower()
    if report_type == "delivery-status":
        return _delivery_status(mail, original)
    if report_type == "feedback-report":
        return _feedback(mail, original)
    return [Report("unrelated", detail=f"report-type {report_type or 'missing'}")]
