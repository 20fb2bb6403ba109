"""Dating the open lots that have no expiry date under the configured expiry policy.

Lots are dated when they are earned; two kinds are not: the opening lots migration 0012 made
from the balances members already had, and lots earned while the policy was `never`. The
expiry sweep dates them the first time it meets them under a policy with expiry, so turning
expiry on (at the migration or later) applies to every point a member holds:

- `per_lot` / `end_of_period`: as if earned when the sweep first dated them (their earned date
  when later), never retroactively: a program that turns expiry on owes its members the whole
  period, and the `points.expiring` reminders before it.
- `rolling`: by activity, as any lot under that policy: `months` after the member's last
  purchase or visit (the lot's earned date for a member with none: it stands for when the
  balance was last known to change).
"""

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from loyalflow.members.points_ledger import OPEN_LOT
from loyalflow.models.points_tables import PointsLot
from loyalflow.rules.points_expiry import PointsExpiry


def date_open_lots(
    session: Session,
    member_ids: list[str],
    last_activity: Mapping[str, datetime | None],
    expiry: PointsExpiry,
    as_of: datetime,
) -> int:
    """Dates these (locked) members' undated open lots; returns how many were dated."""
    undated = session.exec(
        select(PointsLot.id, PointsLot.member_id, PointsLot.earned_at).where(
            col(PointsLot.member_id).in_(member_ids),
            OPEN_LOT,
            col(PointsLot.expires_at).is_(None),
        )
    ).all()
    changes = []
    for lot_id, member_id, earned_at in undated:
        active_at = last_activity.get(member_id)
        if expiry.policy == "rolling":  # the member's clock; the lot's date is no activity
            since = _aware(active_at or earned_at)
        else:
            since = max(_aware(earned_at), as_of)
        changes.append({"id": lot_id, "expires_at": expiry.expires_at(since, None)})
    if changes:
        session.execute(update(PointsLot), changes)  # by primary key, executemany
    return len(changes)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
