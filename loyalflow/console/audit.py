"""The audit log: every console action and `users` command, with who, what, when and target."""

from typing import Any

from sqlmodel import Session, col, select

from loyalflow.models.console_tables import AuditEntry
from loyalflow.models.db import session_scope


def record(
    session: Session,
    actor: str,
    action: str,
    target: str | None = None,
    ip: str | None = None,
    **details: Any,
) -> None:
    """Adds the entry to `session`: it commits with the change it describes, or not at all."""
    session.add(AuditEntry(actor=actor, action=action, target=target, ip=ip, details=details))


def audit(
    url: str,
    actor: str,
    action: str,
    target: str | None = None,
    ip: str | None = None,
    **details: Any,
) -> None:
    """For actions whose effect lives elsewhere (Temporal): written once they succeeded."""
    with session_scope(url) as session:
        record(session, actor, action, target, ip, **details)


def entries_for(url: str, target: str, limit: int = 50) -> list[AuditEntry]:
    with session_scope(url) as session:
        return list(
            session.exec(
                select(AuditEntry)
                .where(AuditEntry.target == target)
                .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
                .limit(limit)
            )
        )
