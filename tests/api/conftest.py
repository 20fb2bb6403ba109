"""API fixtures: the real app (lifespan included) on the real DB and a real Temporal dev server."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from loyalflow.api.app import create_app
from loyalflow.config import Settings

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
