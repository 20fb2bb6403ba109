"""SQL's `NTILE(5) OVER (ORDER BY value, id)` without sorting every row.

NTILE puts n ordered rows in 5 buckets, the first n mod 5 of them one row larger, so bucket b+1
starts at position p_b = b * (n div 5) + min(b, n mod 5). A row's bucket is then 1 plus the
number of boundary rows (value_b, id_b) at or before it in (value, id) order: four comparisons,
no ordering of the rows. The boundary rows come from a histogram of a coarse key (monotonic in
the value: a few thousand groups, not a million rows): the group holding position p_b is found
from the histogram's running counts, and only that group's rows are ordered to find the row at
p_b's offset in it. At a million members the two windowed sorts of the whole set cost seconds
(RFM: four of them); this reads the rows a few times and sorts a few small groups.

Both databases run it (CTEs, window functions over the small histogram, row values spelled out).
"""

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

BUCKETS = 5


@dataclass(frozen=True)
class Ranked:
    """What to rank: `value` (NULL: the row takes no part) ordered with `row_id` breaking ties;
    `key`: a coarse key, non-decreasing in `value` (equal values, equal keys)."""

    value: ColumnElement[Any]
    row_id: ColumnElement[Any]
    key: ColumnElement[Any]


def _boundaries(rows: sa.CTE, ranked: Ranked, name: str) -> sa.CTE:
    """One row: (v1, i1 ... v4, i4), the first row of buckets 2 to 5 (NULLs for buckets that
    stay empty when there are fewer than 5 rows)."""
    taking_part = ranked.value.is_not(None)
    histogram = (
        sa.select(ranked.key.label("k"), sa.func.count().label("c"))
        .select_from(rows)
        .where(taking_part)
        .group_by(ranked.key)
        .subquery(f"{name}_histogram")
    )
    running = sa.select(
        histogram.c.k,
        histogram.c.c,
        (sa.func.sum(histogram.c.c).over(order_by=histogram.c.k) - histogram.c.c).label("lo"),
        sa.func.sum(histogram.c.c).over().label("n"),
    ).subquery(f"{name}_running")
    numbers = sa.union_all(
        *(sa.select(sa.literal(b, sa.Integer()).label("b")) for b in range(1, BUCKETS))
    ).subquery(f"{name}_b")
    n = sa.cast(running.c.n, sa.Integer())
    size = n // BUCKETS
    remainder = n - size * BUCKETS
    position = numbers.c.b * size + sa.case((numbers.c.b < remainder, numbers.c.b), else_=remainder)
    groups = (
        sa.select(numbers.c.b, running.c.k, (position - running.c.lo).label("offset"))
        .select_from(running.join(numbers, sa.true()))
        .where(running.c.lo <= position, position < running.c.lo + running.c.c)
        .subquery(f"{name}_groups")
    )
    in_group = (
        sa.select(
            groups.c.b,
            groups.c.offset,
            ranked.value.label("v"),
            ranked.row_id.label("i"),
            sa.func.row_number()
            .over(partition_by=groups.c.b, order_by=(ranked.value, ranked.row_id))
            .label("rn"),
        )
        .select_from(rows.join(groups, ranked.key == groups.c.k))
        .where(taking_part)
        .subquery(f"{name}_in_group")
    )
    columns: list[ColumnElement[Any]] = []
    for b in range(1, BUCKETS):
        columns.append(sa.func.max(sa.case((in_group.c.b == b, in_group.c.v))).label(f"v{b}"))
        columns.append(sa.func.max(sa.case((in_group.c.b == b, in_group.c.i))).label(f"i{b}"))
    return (
        sa.select(*columns).where(in_group.c.rn == in_group.c.offset + 1).cte(f"{name}_boundaries")
    )


@dataclass(frozen=True)
class Quintile:
    """`bucket`: the row's NTILE(5), NULL when its value is; select it from `rows` joined to
    `boundaries` (one row: `join_to`)."""

    boundaries: sa.CTE
    bucket: ColumnElement[Any]

    def join_to(self, source: sa.FromClause) -> sa.Join:
        return source.join(self.boundaries, sa.true())


def quintile(rows: sa.CTE, ranked: Ranked, name: str) -> Quintile:
    """`ranked`'s columns are `rows`' (a CTE the query reads several times: materialize it)."""
    boundaries = _boundaries(rows, ranked, name)
    at_or_after = []
    for b in range(1, BUCKETS):
        value, row_id = boundaries.c[f"v{b}"], boundaries.c[f"i{b}"]
        reached = sa.or_(
            ranked.value > value, sa.and_(ranked.value == value, ranked.row_id >= row_id)
        )
        at_or_after.append(sa.case((reached, 1), else_=0))
    bucket = sa.case(
        (ranked.value.is_(None), sa.null()),
        else_=1 + sum(at_or_after[1:], at_or_after[0]),
    )
    return Quintile(boundaries=boundaries, bucket=bucket)
