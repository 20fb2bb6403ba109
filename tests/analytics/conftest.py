"""A database of its own for the analytics tests: KPIs add up the whole program, so no other
test's members may be in it. SQLite always, PostgreSQL when configured (its own schema)."""

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from loyalflow.models.db import get_engine, upgrade_database
from tests.conftest import POSTGRES_URL


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def own_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('analytics') / 'loyalflow.db'}"
        upgrade_database(url)
        yield url
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL runs only when LOYALFLOW_TEST_DATABASE_URL is set")
    schema = f"analytics_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with get_engine(POSTGRES_URL).begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = (
        make_url(POSTGRES_URL)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    upgrade_database(url)
    yield url
    get_engine(url).dispose()
    with get_engine(POSTGRES_URL).begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture(scope="module")
def program(own_database_url: str) -> str:
    """The hand-made program of `kpi_program.py`, loaded into this module's database."""
    from tests.analytics.kpi_program import load_program

    load_program(own_database_url)
    return own_database_url
