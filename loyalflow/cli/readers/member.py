"""`loyalflow member get`: members/profile.py's `get_member` in plain SQL (same queries, same
`MemberOut`), so the command starts without the ORM."""

import json
from typing import Any

from loyalflow.cli.readers.connection import Reader, read_database, utc
from loyalflow.models.member_view import ConsentOut, MemberOut, PointsSummary
from loyalflow.rules.loyalty import TierLadder

EARNING_KINDS = ("earned", "bonus")  # as members/tiers.py
MEMBER_COLUMNS = (
    "id, email, phone, first_name, locale, timezone, tier, points, joined_at, "
    "first_purchase_at, last_purchase_at, last_activity_at, purchase_count, total_spent, "
    "attributes"
)
MEMBER_TIMES = ("joined_at", "first_purchase_at", "last_purchase_at", "last_activity_at")


def read_member(url: str, member_id: str, ladder: TierLadder) -> MemberOut | None:
    """The member with their consents and points summary, or None when there is no such member."""
    with read_database(url) as db:
        found = db.row(f"SELECT {MEMBER_COLUMNS} FROM member WHERE id = ?", member_id)
        if found is None:
            return None
        member: dict[str, Any] = dict(zip(MEMBER_COLUMNS.split(", "), found, strict=True))
        for name in MEMBER_TIMES:
            member[name] = utc(member[name])
        if isinstance(member["attributes"], str):  # SQLite stores JSON as text
            member["attributes"] = json.loads(member["attributes"])
        consents = [
            ConsentOut.model_validate(
                {
                    "channel": channel,
                    "topic": topic,
                    "status": status,
                    "source": source,
                    "at": utc(at),
                }
            )
            for channel, topic, status, source, at in db.rows(
                "SELECT channel, topic, status, source, at FROM consent "
                "WHERE member_id = ? ORDER BY channel",
                member_id,
            )
        ]
        loyalty = _points_summary(db, member_id, member["points"], member["tier"], ladder)
    return MemberOut.model_validate({**member, "consents": consents, "loyalty": loyalty})


def _points_summary(
    db: Reader, member_id: str, balance: int, tier: str | None, ladder: TierLadder
) -> PointsSummary:
    totals = dict(
        db.rows(
            "SELECT kind, SUM(points) FROM points_ledger WHERE member_id = ? GROUP BY kind",
            member_id,
        )
    )
    upcoming = ladder.next_level(tier)
    to_next = None
    if upcoming is not None and ladder.basis == "points":
        to_next = max(0, int(upcoming.threshold) - balance)
    next_expiry = _scalar(
        db,
        "SELECT MIN(expires_at) FROM points_lot WHERE member_id = ? AND remaining > 0",
        member_id,
    )
    expiring = 0
    if next_expiry is not None:
        expiring = _scalar(
            db,
            "SELECT COALESCE(SUM(remaining), 0) FROM points_lot "
            "WHERE member_id = ? AND remaining > 0 AND expires_at = ?",
            member_id,
            next_expiry,
        )
    cancelled = _scalar(
        db,
        "SELECT COALESCE(SUM(cost), 0) FROM redemption WHERE member_id = ? AND status = ?",
        member_id,
        "cancelled",
    )
    return PointsSummary(
        balance=balance,
        expiring_next=int(expiring),
        expiring_at=utc(next_expiry),
        lifetime_earned=sum(int(totals.get(kind) or 0) for kind in ("opening", *EARNING_KINDS)),
        lifetime_redeemed=-int(totals.get("redeemed") or 0) - int(cancelled),
        lifetime_expired=-int(totals.get("expired") or 0),
        tier=tier,
        next_tier=upcoming.name if upcoming else None,
        points_to_next_tier=to_next,
    )


def _scalar(db: Reader, sql: str, *params: object) -> Any:
    found = db.row(sql, *params)
    return found[0] if found else None
