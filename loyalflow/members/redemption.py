"""Redeeming a reward: the reward, the tier, the stock and the balance are checked in the same
transaction as the deduction, with the member row locked (on SQLite the write transaction is
taken up front), so two redemptions racing for the last points cannot both succeed.

Idempotent by the client's redemption id. A refusal changes nothing. `redemption.cancelled`
(an ingested event) gives the points back to the lots they came from, where those have not
expired since.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from loyalflow.members import points_ledger
from loyalflow.models.column_types import utcnow
from loyalflow.models.db import session_scope
from loyalflow.models.points_tables import PointsLedger, PointsLot, Redemption, RewardStock
from loyalflow.models.tables import Event, Member
from loyalflow.observability.metrics import count_ingested
from loyalflow.rules.loyalty import LoyaltyRules
from loyalflow.rules.rewards import RewardsCatalogue


class RedemptionRefused(Exception):
    """`status`: 404 (no member), 409 (not enough points, tier, stock), 422 (bad field)."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


class EventRefused(ValueError):
    """An ingested event that cannot apply (e.g. cancelling an unknown redemption)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class RedemptionOutcome:
    redemption: Redemption
    created: bool
    balance: int
    events: list[Event] = field(default_factory=list)


def redeemed_event_id(member_id: str, redemption_id: str) -> str:
    return f"redemption/{member_id}/{redemption_id}/points.redeemed"


def redeem(
    url: str,
    member_id: str,
    redemption_id: str,
    reward_id: str,
    *,
    rewards: RewardsCatalogue,
    rules: LoyaltyRules,
    at: datetime | None = None,
) -> RedemptionOutcome:
    at = at or utcnow()
    try:
        outcome = _redeem(url, member_id, redemption_id, reward_id, rewards, rules, at)
    except IntegrityError:
        # A concurrent request inserted the same redemption id or stock row first.
        outcome = _redeem(url, member_id, redemption_id, reward_id, rewards, rules, at)
    count_ingested(e.type for e in outcome.events)
    return outcome


def _redeem(
    url: str,
    member_id: str,
    redemption_id: str,
    reward_id: str,
    rewards: RewardsCatalogue,
    rules: LoyaltyRules,
    at: datetime,
) -> RedemptionOutcome:
    with session_scope(url) as session:
        member = session.get(Member, member_id, with_for_update=True)
        if member is None:
            raise RedemptionRefused(404, "member_id", f"no member {member_id!r}")
        existing = session.get(Redemption, (member_id, redemption_id))
        if existing is not None:
            if existing.reward_id != reward_id:
                raise RedemptionRefused(
                    422,
                    "redemption_id",
                    f"redemption id {redemption_id!r} was already used for reward "
                    f"{existing.reward_id!r}; use a new id for a new redemption",
                )
            return RedemptionOutcome(existing, created=False, balance=member.points)
        reward = rewards.get(reward_id)
        if reward is None:
            raise RedemptionRefused(422, "reward_id", f"unknown reward {reward_id!r}")
        if not reward.active_at(at):
            raise RedemptionRefused(422, "reward_id", f"reward {reward_id!r} is not active now")
        tier = member.tier or rules.tiers.tier_for(0)
        if reward.min_tier and rules.tiers.rank(tier) < rules.tiers.rank(reward.min_tier):
            raise RedemptionRefused(
                409,
                "reward_id",
                f"reward {reward_id!r} needs tier {reward.min_tier}; member is {tier}",
            )
        if member.points < reward.cost:
            raise RedemptionRefused(
                409,
                "points",
                f"not enough points: balance {member.points}, cost {reward.cost}",
            )
        if reward.stock is not None:
            stock = session.get(RewardStock, reward_id, with_for_update=True)
            if stock is None:
                stock = RewardStock(reward_id=reward_id, taken=0)
            if stock.taken >= reward.stock:
                raise RedemptionRefused(409, "reward_id", f"reward {reward_id!r} is out of stock")
            stock.taken += 1
            session.add(stock)
        redemption = Redemption(
            id=redemption_id, member_id=member_id, reward_id=reward_id, cost=reward.cost, at=at
        )
        session.add(redemption)
        event_id = redeemed_event_id(member_id, redemption_id)
        points_ledger.record(
            session,
            member,
            kind="redeemed",
            points=-reward.cost,
            at=at,
            expiry=rules.points_expiry,
            event_id=event_id,
        )
        event = Event(
            event_id=event_id,
            member_id=member_id,
            type="points.redeemed",
            occurred_at=at,
            properties={
                "redemption_id": redemption_id,
                "reward_id": reward_id,
                "points": reward.cost,
                "balance": member.points,
            },
        )
        events = [event, *_tier_after_spending(member, rules, event)]
        session.add(member)
        session.add_all(events)
        session.flush()
        return RedemptionOutcome(redemption, created=True, balance=member.points, events=events)


def _tier_after_spending(member: Member, rules: LoyaltyRules, redeemed: Event) -> list[Event]:
    """Only a ladder on the current balance (`basis: points`) with `downgrade: immediate`
    follows a redemption down; points earned and spend do not change when points are spent."""
    if rules.tiers.basis != "points":
        return []
    before = member.tier or rules.tiers.tier_for(0)
    member.tier = rules.tiers.settle(before, member.points)
    if member.tier == before:
        return []
    return [
        Event(
            event_id=f"{redeemed.event_id}/tier.downgraded",
            member_id=member.id,
            type="tier.downgraded",
            occurred_at=redeemed.occurred_at,
            properties={"from": before, "to": member.tier},
            caused_by=redeemed.event_id,
        )
    ]


def cancel(session: Session, member: Member, event: Event, rules: LoyaltyRules) -> int:
    """Applies `redemption.cancelled`; returns the points given back."""
    redemption_id = str(event.properties["redemption_id"])
    redemption = session.get(Redemption, (member.id, redemption_id), with_for_update=True)
    if redemption is None:
        raise EventRefused(
            "properties.redemption_id", f"no redemption {redemption_id!r} for this member"
        )
    if redemption.status == "cancelled":
        raise EventRefused(
            "properties.redemption_id", f"redemption {redemption_id!r} is already cancelled"
        )
    redemption.status, redemption.cancelled_at = "cancelled", event.occurred_at
    session.add(redemption)
    stock = session.get(RewardStock, redemption.reward_id, with_for_update=True)
    if stock is not None:
        stock.taken = max(0, stock.taken - 1)
        session.add(stock)
    redeemed = session.get(PointsLedger, _redeemed_row_id(session, member.id, redemption_id))
    taken = redeemed.lots if redeemed is not None else []
    if member.points < 0:  # a debt since: the points repay it first, as any earning would
        points_ledger.record(
            session,
            member,
            kind="reversed",
            points=redemption.cost,
            at=event.occurred_at,
            expiry=rules.points_expiry,
            event_id=event.event_id,
        )
        return redemption.cost
    returned: list[list[int]] = []
    for lot_id, points in taken:
        lot = session.get(PointsLot, lot_id)
        if lot is None or (lot.expires_at is not None and lot.expires_at <= event.occurred_at):
            continue  # expired since: those points would be gone by now
        lot.remaining += points
        session.add(lot)
        returned.append([lot_id, points])
    amount = sum(points for _, points in returned)
    points_ledger.record(
        session,
        member,
        kind="reversed",
        points=amount,
        at=event.occurred_at,
        expiry=rules.points_expiry,
        event_id=event.event_id,
        lots=returned,
    )
    return amount


def _redeemed_row_id(session: Session, member_id: str, redemption_id: str) -> int | None:
    return session.exec(
        select(PointsLedger.id).where(
            PointsLedger.event_id == redeemed_event_id(member_id, redemption_id),
            PointsLedger.kind == "redeemed",
        )
    ).first()
