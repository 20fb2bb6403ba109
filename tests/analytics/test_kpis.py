"""Every program KPI against the hand-made program of `kpi_program.py`, on SQLite and PostgreSQL.

Expected figures are worked out here from each KPI's definition (README, "Results: KPIs") over
the program's list of happenings, or by hand in the comments where the points ledger's lots
decide (expiry takes what redemptions left).
"""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from loyalflow.analytics.kpi_models import KpiReport, Period, RfmKey
from loyalflow.analytics.kpis import kpi_report
from loyalflow.analytics.sql import ACTIVITY_TYPES
from loyalflow.members.state import MEMBER_ACTIVITY
from tests.analytics.kpi_program import ACTIVITY, END, PROGRAM, START, Happening

PERIOD = Period(start=START, end=END)


@pytest.fixture(scope="module")
def report(program: str) -> KpiReport:
    from tests.analytics.kpi_program import program_rules

    return kpi_report(program, program_rules(), PERIOD)


def _before(at: datetime) -> list[Happening]:
    return [h for h in PROGRAM if h.at < at]


def _members_at(at: datetime) -> set[str]:
    return {h.member for h in _before(at) if h.type == "member.joined"}


def _orders(member: str, start: datetime, end: datetime) -> list[Decimal]:
    """Purchase amounts (refunds included, negative) of a member in [start, end)."""
    return [
        Decimal(h.properties["amount"])
        for h in PROGRAM
        if h.member == member and h.type == "purchase" and start <= h.at < end
    ]


def test_the_activity_types_are_the_ones_member_state_counts() -> None:
    assert set(ACTIVITY_TYPES) == set(MEMBER_ACTIVITY) == set(ACTIVITY)


def test_member_kpis(report: KpiReport) -> None:
    members = _members_at(END)
    assert members == {"A", "B", "C", "D", "E"}
    last_activity = {
        m: max(h.at for h in _before(END) if h.member == m and h.type in ACTIVITY) for m in members
    }
    idle_days = {m: (END - at).days for m, at in last_activity.items()}
    active = {m for m, days in idle_days.items() if days < 90}
    churned = {m for m, days in idle_days.items() if days >= 365}
    orders = {
        m: [a for a in _orders(m, datetime.min.replace(tzinfo=END.tzinfo), END) if a >= 0]
        for m in members
    }
    purchasers = {m for m, o in orders.items() if len(o) >= 1}
    repeat = {m for m, o in orders.items() if len(o) >= 2}
    assert (active, churned, repeat) == ({"A", "B", "E"}, {"C"}, {"A", "B", "E"})

    figures = report.overall.members
    assert figures.total == len(members)
    assert figures.new == len(_members_at(END) - _members_at(START)) == 1
    assert figures.active == len(active)
    assert figures.active_rate == pytest.approx(len(active) / len(members))
    assert figures.purchasers == len(purchasers) == 4
    assert figures.repeat_purchasers == len(repeat)
    assert figures.repeat_purchase_rate == pytest.approx(len(repeat) / len(purchasers))
    assert figures.churned == len(churned)
    assert figures.churn_rate == pytest.approx(len(churned) / len(members))
    buckets = [(b.min_days, b.max_days, b.members) for b in figures.inactivity]
    expected = [
        (low, high, sum(1 for d in idle_days.values() if d >= low and (high is None or d < high)))
        for low, high in [(0, 90), (90, 180), (180, 365), (365, None)]
    ]
    assert buckets == expected == [(0, 90, 3), (90, 180, 1), (180, 365, 0), (365, None, 1)]


def test_purchase_kpis(report: KpiReport) -> None:
    members = _members_at(END)
    amounts = [a for m in members for a in _orders(m, START, END)]
    orders = [a for a in amounts if a >= 0]
    buyers = {m for m in members if any(a >= 0 for a in _orders(m, START, END))}
    revenue = sum(amounts, Decimal(0))
    year = sum((a for m in members for a in _orders(m, END - timedelta(days=365), END)), Decimal(0))
    assert (len(orders), revenue, year) == (4, Decimal(2640), Decimal(3390))

    figures = report.overall.purchases
    assert figures.orders == len(orders)
    assert figures.revenue == revenue
    assert figures.purchasers == len(buyers) == 3
    assert figures.average_order_value == revenue / len(orders)
    assert figures.purchase_frequency == pytest.approx(len(orders) / len(buyers))
    assert figures.revenue_per_member == revenue / len(members)
    assert figures.revenue_12m == year
    assert figures.clv_12m == year / len(members)


def test_average_order_value_by_current_tier(report: KpiReport) -> None:
    # Tiers now: A Bronze (Silver in March; its 500-point voucher on 12 June left 130, and tiers
    # on the balance with immediate downgrades follow redemptions), B Bronze (refund), E Gold.
    by_tier = {t.tier: (t.orders, t.revenue, t.average_order_value) for t in report.aov_by_tier}
    assert by_tier == {
        "Bronze": (2, Decimal(80), Decimal(40)),  # A's 80; B's 300, then its refund
        "Gold": (2, Decimal(2560), Decimal(1280)),
    }


def test_points_kpis(report: KpiReport) -> None:
    # Issued in June: earned 80 (A) + 300 (B) + 60 + 2500 (E), less B's refund taking 300 back.
    issued = 80 + 300 + 60 + 2500 - 300
    redeemed = 500  # A's voucher
    # The sweep of 20 June expires the lots earned by 20 March still holding points:
    # A's January 100 and March 450 lots gave 100 and 400 to the voucher: 50 left;
    # B's December 200; C's 40 of March 2025.
    expired = 50 + 200 + 40
    # Balances at the end: A 100+450+80-500-50, B 200+300-200-300 (its July 50 is later),
    # C 40-40, D 0, E 2560-20; F joins in July.
    outstanding = 80 + 0 + 0 + 0 + 2540
    figures = report.overall.points
    assert (figures.issued, figures.redeemed, figures.expired) == (issued, redeemed, expired)
    assert figures.removed == 20
    assert figures.outstanding == outstanding
    assert figures.outstanding_value == Decimal(outstanding) * Decimal("0.01")
    assert figures.redemption_rate == pytest.approx(redeemed / issued)
    assert figures.breakage == pytest.approx(expired / issued)


def test_redeeming_and_other_members(report: KpiReport) -> None:
    redeeming, others = report.redeemers.redeeming, report.redeemers.not_redeeming
    # A redeemed in June and bought once (80).
    assert (redeeming.members, redeeming.orders, redeeming.revenue) == (1, 1, Decimal(80))
    assert redeeming.average_order_value == Decimal(80)
    assert redeeming.purchase_frequency == 1
    # B, C, D, E did not: B bought 300 and refunded it, E bought 60 and 2500.
    assert (others.members, others.purchasers, others.orders) == (4, 2, 3)
    assert others.revenue == Decimal(2560)
    assert others.average_order_value == (Decimal(2560) / 3).quantize(Decimal("0.01"))
    assert others.purchase_frequency == pytest.approx(3 / 2)


def test_tier_kpis(report: KpiReport) -> None:
    distribution = {t.tier: t.members for t in report.tiers.distribution}
    # Now (F included): E Gold, A B C D F Bronze (A since its voucher); ladder order.
    assert distribution == {"Bronze": 5, "Silver": 0, "Gold": 1, "Platinum": 0}
    assert [t.tier for t in report.tiers.distribution] == ["Bronze", "Silver", "Gold", "Platinum"]
    # June: B Bronze -> Silver (5th), A Silver -> Bronze (its voucher, 12th), E Bronze -> Gold
    # (18th), B Silver -> Bronze (refund); A's upgrade was in March.
    assert (report.tiers.upgrades, report.tiers.downgrades) == (2, 2)
    moves = {(m.from_tier, m.to_tier): m.members for m in report.tiers.moves}
    assert moves == {("Bronze", "Silver"): 1, ("Bronze", "Gold"): 1, ("Silver", "Bronze"): 2}


def _month(at: datetime) -> int:
    return at.year * 12 + at.month


def _expected_retention(end: datetime) -> dict[int, list[float]]:
    last = _month(end - timedelta(seconds=1))
    joined = {h.member: _month(h.at) for h in _before(end) if h.type == "member.joined"}
    active_months = {(h.member, _month(h.at)) for h in _before(end) if h.type in ACTIVITY}
    expected = {}
    for cohort in sorted(set(joined.values())):
        if cohort <= last - 12:
            continue  # C (March 2025) is older than the 12 cohorts shown
        people = [m for m, month in joined.items() if month == cohort]
        expected[cohort] = [
            sum((m, month) in active_months for m in people) / len(people)
            for month in range(cohort + 1, last + 1)
        ]
    return expected


def _retention(report: KpiReport) -> dict[int, list[float]]:
    return {
        _month(datetime.fromisoformat(r.cohort + "-01")): r.retention for r in report.cohorts.rows
    }


def test_retention_by_join_month_cohort(report: KpiReport) -> None:
    rows = _retention(report)
    assert rows == _expected_retention(END)
    assert rows[_month(datetime(2025, 11, 1))] == [1, 0, 0, 0, 0, 0, 1]  # B: Dec, then June
    assert [r.members for r in report.cohorts.rows] == [1, 1, 1, 1]


def test_retention_up_to_an_end_inside_a_month(program: str) -> None:
    """Ending on 8 July: D's visit of the 5th counts for July; F (joined the 10th) and B's
    purchase of the 15th are after the end, though in the same month."""
    from tests.analytics.kpi_program import program_rules

    end = datetime(2026, 7, 8, tzinfo=END.tzinfo)
    rows = _retention(kpi_report(program, program_rules(), Period(start=START, end=end)))
    assert rows == _expected_retention(end)
    assert rows[_month(datetime(2026, 2, 1))][-1] == 1  # D, February's cohort, active in July
    assert rows[_month(datetime(2025, 11, 1))][-1] == 0  # B bought on 15 July: not yet


def test_a_period_with_nothing_after_it(program: str) -> None:
    """Ending after the program's last event, as the default period (up to now) does: buyers
    and the end month's activity are then read from the member rows, not the events."""
    from tests.analytics.kpi_program import program_rules

    end = max(h.at for h in PROGRAM) + timedelta(days=1)
    start = end - timedelta(days=30)
    report = kpi_report(program, program_rules(), Period(start=start, end=end))
    buyers = {m for m in _members_at(end) if any(a >= 0 for a in _orders(m, start, end))}
    assert report.overall.purchases.purchasers == len(buyers) >= 1
    assert report.overall.purchases.orders == sum(
        a >= 0 for m in _members_at(end) for a in _orders(m, start, end)
    )
    rows = _retention(report)
    assert rows == _expected_retention(end)
    assert any(r.retention and r.retention[-1] > 0 for r in report.cohorts.rows)


def _ntile(ordered: list[str], buckets: int = 5) -> dict[str, int]:
    """SQL's NTILE: groups in order, the first (n mod buckets) one larger."""
    size, extra = divmod(len(ordered), buckets)
    tiles, index = {}, 0
    for tile in range(1, buckets + 1):
        for _ in range(size + (1 if tile <= extra else 0)):
            tiles[ordered[index]] = tile
            index += 1
    return tiles


def _rfm_at(at: datetime) -> dict[str, RfmKey]:
    # 3 and 6 calendar months before the period start (1 June) and end (1 July).
    three, six = {
        START: (START.replace(month=3), START.replace(year=2025, month=12)),
        END: (END.replace(month=4), END.replace(month=1)),
    }[at]
    stats = {}
    for member in _members_at(at):
        amounts = _orders(member, datetime.min.replace(tzinfo=at.tzinfo), at)
        orders = [
            h.at
            for h in _before(at)
            if h.member == member and h.type == "purchase" and h.properties["amount"] >= 0
        ]
        if orders:
            stats[member] = (max(orders), len(orders), sum(amounts))
    frequency = _ntile(sorted(stats, key=lambda m: (stats[m][1], m)))
    monetary = _ntile(sorted(stats, key=lambda m: (stats[m][2], m)))
    return {
        m: RfmKey(
            recency="<3m" if last > three else "3-6m" if last > six else ">6m",
            frequency=frequency[m],
            monetary=monetary[m],
        )
        for m, (last, _, _) in stats.items()
    }


def test_rfm_cells_and_moves(report: KpiReport) -> None:
    start, end = _rfm_at(START), _rfm_at(END)
    assert end["B"] == RfmKey(recency="<3m", frequency=2, monetary=2)  # June's order, not July's
    assert start["B"].recency == "3-6m"

    def cells(keys: dict[str, RfmKey]) -> dict[RfmKey, int]:
        counted: dict[RfmKey, int] = {}
        for key in keys.values():
            counted[key] = counted.get(key, 0) + 1
        return counted

    def reported(cells: list) -> dict[RfmKey, int]:  # type: ignore[type-arg]
        return {
            RfmKey(recency=c.recency, frequency=c.frequency, monetary=c.monetary): c.members
            for c in cells
        }

    assert reported(report.rfm.start) == cells(start)
    assert reported(report.rfm.end) == cells(end)
    moves: dict[tuple[RfmKey | None, RfmKey], int] = {}
    for member, key in end.items():
        pair = (start.get(member), key)
        moves[pair] = moves.get(pair, 0) + 1
    assert {(m.before, m.after): m.members for m in report.rfm.moves} == moves
    assert report.rfm.changed == sum(n for (was, now), n in moves.items() if was != now) == 4


def test_groups_by_locale(program: str) -> None:
    from tests.analytics.kpi_program import LOCALES, program_rules

    grouped = kpi_report(program, program_rules(), PERIOD, by="locale")
    groups = {g.key: g.figures for g in grouped.groups}
    assert set(groups) == {"en", "fr"}
    for locale, figures in groups.items():
        people = {m for m in _members_at(END) if LOCALES[m] == locale}
        amounts = [a for m in people for a in _orders(m, START, END)]
        assert figures.members.total == len(people)
        assert figures.purchases.orders == sum(1 for a in amounts if a >= 0)
        assert figures.purchases.revenue == sum(amounts, Decimal(0))
    # fr: B's December lot (200) expired in June; en: A's 50 and C's 40.
    assert (groups["fr"].points.expired, groups["en"].points.expired) == (200, 90)
    assert grouped.overall == kpi_report(program, program_rules(), PERIOD).overall


def test_a_period_with_nothing_in_it(program: str) -> None:
    from tests.analytics.kpi_program import program_rules

    empty = Period(
        start=datetime(2020, 1, 1, tzinfo=END.tzinfo), end=datetime(2020, 2, 1, tzinfo=END.tzinfo)
    )
    figures = kpi_report(program, program_rules(), empty)
    assert figures.overall.members.total == 0
    assert figures.overall.members.active_rate is None
    assert figures.overall.purchases.average_order_value is None
    assert figures.overall.points.redemption_rate is None
    assert figures.cohorts.rows == [] and figures.rfm.end == []


def test_groups_of_a_period_before_every_member_joined(program: str) -> None:
    """Members who joined after the period hold points today: their groups have no member at
    the period end, and their figures are all zero (no group is left without purchases)."""
    from tests.analytics.kpi_program import program_rules

    before = Period(
        start=datetime(2020, 1, 1, tzinfo=END.tzinfo), end=datetime(2020, 2, 1, tzinfo=END.tzinfo)
    )
    grouped = kpi_report(program, program_rules(), before, by="tier")
    for group in grouped.groups:
        assert group.figures.members.total == 0
        assert group.figures.purchases.orders == 0
        assert group.figures.points.issued == 0


def test_many_members_active_since_the_end(program: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Members active since the period's end (B, D, F here) are checked one by one when few, and
    the period's events are read instead when many: both give the figures the other tests
    work out from the definitions."""
    from loyalflow.analytics import kpi_purchases
    from tests.analytics.kpi_program import program_rules

    probed = kpi_report(program, program_rules(), PERIOD)
    monkeypatch.setattr(kpi_purchases, "FEW_SINCE", 0)
    read = kpi_report(program, program_rules(), PERIOD)
    assert read.model_dump(exclude={"generated_at"}) == probed.model_dump(exclude={"generated_at"})
    assert probed.overall.purchases.purchasers >= 1 and probed.cohorts.rows
