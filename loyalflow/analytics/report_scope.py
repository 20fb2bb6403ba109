"""The read transaction every journey and experiment report runs in.

On PostgreSQL it turns JIT compilation off for the transaction: the report queries' correlated
subqueries (conversion, unsubscribes, fallbacks) are estimated expensive, which triggers JIT,
but run in milliseconds; compiling took 0.93 s of a 0.94 s funnel query in
bench/report_funnel.py.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlmodel import Session

from loyalflow.models.db import read_scope


@contextmanager
def report_scope(url: str) -> Iterator[Session]:
    with read_scope(url) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL jit = off"))
        yield session
