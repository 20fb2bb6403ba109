"""Contact details as marketers see them: enough to recognise, too little to harvest."""


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
