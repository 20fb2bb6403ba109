"""Contact details as marketers see them: enough to recognise, too little to harvest."""

import re
from collections.abc import Callable


def mask_email(email: str | None) -> str | None:
    """`alice@example.com` -> `a•••@example.com`."""
    if not email:
        return None
    local, at, domain = email.rpartition("@")
    if not at:
        return "•••"
    return f"{local[:1]}•••@{domain}"


def mask_phone(phone: str | None) -> str | None:
    """`+33612345678` -> `+33•••••••78`."""
    if not phone:
        return None
    if len(phone) <= 5:
        return "•" * len(phone)
    return phone[:3] + "•" * (len(phone) - 5) + phone[-2:]


def sees_contacts(role: str) -> bool:
    return role in ("admin", "support")


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+[1-9]\d{6,14}")


def redact(text: str | None) -> str:
    """Free text (a bounce reason, a timeline summary) with any address in it masked."""
    if not text:
        return ""
    text = _EMAIL.sub(lambda m: mask_email(m.group()) or "", text)
    return _PHONE.sub(lambda m: mask_phone(m.group()) or "", text)


def shown_as(role: str) -> Callable[[str | None], str]:
    """How free text is shown to `role`: as is for support staff, redacted for marketers."""
    return (lambda text: text or "") if sees_contacts(role) else redact
