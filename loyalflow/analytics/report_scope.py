"""The read transaction every journey and experiment report runs in.

On PostgreSQL it turns JIT compilation off for the transaction: the report queries' correlated
subqueries (conversion, unsubscribes, fallbacks) are estimated expensive, which triggers JIT,
but run in milliseconds; compiling took 0.93 s of a 0.94 s funnel query in
bench/report_funnel.py. It also gives the transaction the memory to sort the cohort in (below).
"""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlmodel import Session

from loyalflow.models.db import read_scope

# Each report query sorts or hashes one row per entry or message of the cohort (tens of thousands
# for a month at 1,000,000 members): PostgreSQL's default 4 MB spilled those sorts to disk.
JOURNEY_SETTINGS = {"jit": "off", "work_mem": "64MB"}


@contextmanager
def report_scope(url: str) -> Iterator[Session]:
    with read_scope(url) as session:
        if session.get_bind().dialect.name == "postgresql":
            for name, value in JOURNEY_SETTINGS.items():
                session.execute(text(f"SET LOCAL {name} = '{value}'"))
        yield session
