"""Tier KPIs: members per tier now (ladder order), upgrades and downgrades in the period from the
`tier.upgraded` / `tier.downgraded` events that ingestion and the requalification sweep derive."""

import sqlalchemy as sa
from sqlalchemy import Connection

from loyalflow.analytics.kpi_models import Period, TierCount, TierKpis, TierMove
from loyalflow.analytics.sql import NO_GROUP, event, member, ratio

TIER_EVENTS = ("tier.upgraded", "tier.downgraded")


def tier_kpis(connection: Connection, period: Period, ladder: list[str]) -> TierKpis:
    tier = sa.func.coalesce(member.c.tier, NO_GROUP).label("tier")
    counts = {
        row.tier: int(row.members)
        for row in connection.execute(
            sa.select(tier, sa.func.count().label("members")).group_by(tier)
        )
    }
    total = sum(counts.values())
    order = {name: rank for rank, name in enumerate(ladder)}
    distribution = [
        TierCount(tier=name, members=counts.get(name, 0), share=ratio(counts.get(name, 0), total))
        for name in sorted(set(counts) | set(ladder), key=lambda n: (order.get(n, len(order)), n))
    ]
    from_tier = event.c.properties["from"].as_string().label("from_tier")
    to_tier = event.c.properties["to"].as_string().label("to_tier")
    moves = connection.execute(
        sa.select(event.c.type, from_tier, to_tier, sa.func.count().label("members"))
        .where(
            event.c.type.in_(TIER_EVENTS),
            event.c.occurred_at >= period.start,
            event.c.occurred_at < period.end,
        )
        .group_by(event.c.type, from_tier, to_tier)
        .order_by(event.c.type.desc(), from_tier, to_tier)
    ).all()
    return TierKpis(
        distribution=distribution,
        upgrades=sum(int(m.members) for m in moves if m.type == "tier.upgraded"),
        downgrades=sum(int(m.members) for m in moves if m.type == "tier.downgraded"),
        moves=[
            TierMove(
                from_tier=m.from_tier or NO_GROUP, to_tier=m.to_tier or NO_GROUP, members=m.members
            )
            for m in moves
        ],
    )
