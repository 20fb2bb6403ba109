"""Shared fixtures: real databases (SQLite always, PostgreSQL when configured), real Temporal servers."""

import os
import socket
import sysconfig
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from loyalflow.config import Settings
from loyalflow.models.db import get_engine, upgrade_database
from loyalflow.runtime.connection import ensure_search_attributes
from loyalflow.workflows import search_attributes as sa

SCRIPTS = Path(sysconfig.get_path("scripts"))
TEMPORAL_CLI = str(SCRIPTS / "temporal")
TEMPORAL_TEST_SERVER = str(SCRIPTS / "temporal-test-server")
POSTGRES_URL = os.environ.get("LOYALFLOW_TEST_DATABASE_URL")
# One schema per test session: concurrent runs against one server never see each other.
PG_SCHEMA = f"loyalflow_test_{os.getpid()}"
pytest_plugins = ["tests.smtp_server", "tests.prism"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _postgres_url() -> str:
    """A dedicated schema, recreated per session, so tests never touch other data in the DB."""
    assert POSTGRES_URL
    base = make_url(POSTGRES_URL)
    with get_engine(base.render_as_string(hide_password=False)).begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    scoped = base.update_query_dict({"options": f"-csearch_path={PG_SCHEMA}"})
    return scoped.render_as_string(hide_password=False)


def _drop_postgres_schema() -> None:
    assert POSTGRES_URL
    with get_engine(POSTGRES_URL).begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "postgresql":
        if not POSTGRES_URL:
            pytest.skip("PostgreSQL runs only when LOYALFLOW_TEST_DATABASE_URL is set")
        url = _postgres_url()
        upgrade_database(url)
        yield url
        get_engine(url).dispose()
        _drop_postgres_schema()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'loyalflow.db'}"
        upgrade_database(url)
        yield url


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def settings(database_url: str, home: Path) -> Settings:
    """Settings for in-process tests: each test gets its own home (outbox) and task queue."""
    return Settings(
        home=home,
        database_url=database_url,
        temporal_task_queue=f"test-{uuid.uuid4().hex[:8]}",
        _env_file=None,
    )


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=TEMPORAL_TEST_SERVER,
        data_converter=pydantic_data_converter,
    )
    await ensure_search_attributes(env.client, "default")
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=TEMPORAL_CLI,
        data_converter=pydantic_data_converter,
        search_attributes=sa.ALL,
    )
    yield env
    await env.shutdown()


def unique_member_id(prefix: str = "M") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def member_id() -> Iterator[str]:
    yield unique_member_id()
