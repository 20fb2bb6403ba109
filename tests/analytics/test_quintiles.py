"""`quintile` gives each row the bucket the database's own `NTILE(5) OVER (ORDER BY value, id)`
gives it, on both databases: few rows (fewer than 5, empty buckets), many ties, values spread
over few or many coarse keys, rows that take no part (NULL)."""

import random
from decimal import Decimal

import pytest
import sqlalchemy as sa

from loyalflow.analytics.quintiles import Ranked, quintile
from loyalflow.models.db import get_engine

metadata = sa.MetaData()
scores = sa.Table(
    "quintile_scores",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("value", sa.Numeric(12, 2)),
)


def _buckets(url: str, rows: list[tuple[str, Decimal | None]]) -> tuple[dict, dict]:  # type: ignore[type-arg]
    engine = get_engine(url)
    with engine.begin() as connection:
        metadata.create_all(connection)
        connection.execute(sa.delete(scores))
        if rows:
            connection.execute(sa.insert(scores), [{"id": i, "value": v} for i, v in rows])
        taking_part = scores.c.value.is_not(None)
        expected = sa.select(
            scores.c.id, sa.func.ntile(5).over(order_by=(scores.c.value, scores.c.id))
        ).where(taking_part)
        want = {row[0]: row[1] for row in connection.execute(expected)}
        rows_cte = sa.select(scores).cte("rows").prefix_with("MATERIALIZED")
        ranked = Ranked(
            value=rows_cte.c.value,
            row_id=rows_cte.c.id,
            key=sa.cast(rows_cte.c.value, sa.Integer()),
        )
        buckets = quintile(rows_cte, ranked, "q")
        got = {
            row[0]: row[1]
            for row in connection.execute(
                sa.select(rows_cte.c.id, buckets.bucket).select_from(buckets.join_to(rows_cte))
            )
        }
        metadata.drop_all(connection)
    return want, got


@pytest.mark.parametrize("count", [0, 1, 3, 4, 5, 6, 7, 11, 24, 25, 26, 203])
@pytest.mark.parametrize("spread", ["ties", "coarse", "fine"])
def test_quintiles_equal_ntile(own_database_url: str, count: int, spread: str) -> None:
    rng = random.Random(count * 7 + len(spread))

    def value() -> Decimal | None:
        if rng.random() < 0.1:
            return None
        if spread == "ties":
            return Decimal(rng.randint(1, 3))
        if spread == "coarse":
            return Decimal(rng.randint(0, 400)) / 100  # many values in few integer keys
        return Decimal(rng.randint(-5000, 500000)) / 100

    rows = [(f"m{rng.randint(0, 10**6):07d}-{i}", value()) for i in range(count)]
    want, got = _buckets(own_database_url, rows)
    assert {i: got[i] for i in want} == want
    assert all(got[i] is None for i, v in rows if v is None)
