"""API fixtures: the real app (lifespan included) on the real DB and a real Temporal dev server;
and a live API process (uvicorn, as `loyalflow api` runs it) for real HTTP client libraries."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from loyalflow.api.app import create_app
from loyalflow.config import Settings
from tests.conftest import free_port
from tests.processes import loyalflow_env, start, wait_for_http

API_TOKEN = "s3cret-token"


@pytest.fixture
def api_settings(settings: Settings, dev_server_env: WorkflowEnvironment) -> Settings:
    # The dev server, not the time-skipping one: journeys started here have no worker, and the
    # time-skipping server stops skipping time for everyone while any task waits for a worker.
    address = dev_server_env.client.service_client.config.target_host
    return settings.model_copy(update={"temporal_address": address})


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


@pytest.fixture
def secured(api_settings: Settings) -> Settings:
    """Settings with an API token: writes need `Authorization: Bearer API_TOKEN`."""
    return api_settings.model_copy(update={"api_token": SecretStr(API_TOKEN)})


WRITE_KEY = "web-source-key"
OTHER_SOURCE_KEY = "pos-source-key"
REVIEW_JOURNEY = """\
id: review_thanks
name: Thank members for good reviews
trigger:
  event: review.posted
  condition: event.rating >= 4
topic: loyalty
steps:
  - id: pause
    kind: wait
    duration: 1d
"""


@dataclass(frozen=True)
class LiveApi:
    url: str
    settings: Settings


@pytest.fixture
def live_api(
    settings: Settings, dev_server_env: WorkflowEnvironment, tmp_path: Path
) -> Iterator[LiveApi]:
    settings = settings.model_copy(
        update={"temporal_address": dev_server_env.client.service_client.config.target_host}
    )
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "review_thanks.yaml").write_text(REVIEW_JOURNEY)
    port = free_port()
    log = tmp_path / "api.log"
    env = loyalflow_env(
        settings,
        LOYALFLOW_API_PORT=str(port),
        LOYALFLOW_WRITE_KEYS=f"{OTHER_SOURCE_KEY}, {WRITE_KEY}",
        LOYALFLOW_JOURNEYS_DIR=str(journeys),
    )
    api = start(["api"], env, log)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", api, log, 60)
        yield LiveApi(f"http://127.0.0.1:{port}", settings)
    finally:
        api.terminate()
        api.wait(timeout=30)
