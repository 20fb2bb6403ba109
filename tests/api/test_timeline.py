"""GET /members/{id}/timeline: the story from the DB, the live trail of a running run, auth."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from loyalflow.api.app import create_app
from loyalflow.config import Settings
from loyalflow.runtime.worker import build_worker
from tests.api.conftest import API_TOKEN
from tests.journey_helpers import (
    create_member,
    only_journeys,
    send_event,
    stop_running_journeys,
    wait_for_timer,
)


@pytest.fixture
def welcome_only(secured: Settings, tmp_path: Path) -> Settings:
    return only_journeys(secured, tmp_path / "journeys", "welcome")


@pytest.fixture
async def worker(
    dev_server_env: WorkflowEnvironment, welcome_only: Settings
) -> AsyncIterator[Worker]:
    async with build_worker(dev_server_env.client, welcome_only) as running:
        yield running
        await stop_running_journeys(dev_server_env.client, welcome_only)


async def test_timeline_of_a_running_journey_with_its_live_trail(
    dev_server_env: WorkflowEnvironment, welcome_only: Settings, worker: Worker, member_id: str
) -> None:
    client = dev_server_env.client
    create_member(welcome_only, member_id, email="ada@example.com", first_name="Ada")
    assert await send_event(client, welcome_only, member_id, "member.joined")
    workflow_id = f"journey-welcome-{member_id}"
    await wait_for_timer(client, workflow_id)
    auth = {"Authorization": f"Bearer {API_TOKEN}"}

    with TestClient(create_app(welcome_only)) as api:
        # The request runs off this loop, so the worker here can answer the trail query.
        response = await asyncio.to_thread(api.get, f"/members/{member_id}/timeline", headers=auth)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["member_id"] == member_id
        [run] = body["runs"]
        assert run["workflow_id"] == workflow_id and run["exited_at"] is None
        assert run["current_step"] == "wait_3_days"
        assert run["link"] == f"http://127.0.0.1:8233/namespaces/default/workflows/{workflow_id}"
        summaries = [e["summary"] for e in body["entries"]]
        assert summaries[0] == "joined the program"
        assert "step wait_3_days waiting: for 3d" in summaries  # from the trail query
        sent = [e for e in body["entries"] if e["kind"] == "message"]
        assert [(e["channel"], e["status"]) for e in sent] == [("email", "sent")]

        missing = await asyncio.to_thread(api.get, f"/members/{member_id}/timeline")
        assert missing.status_code == 401
        unknown = await asyncio.to_thread(api.get, "/members/M-nobody/timeline", headers=auth)
        assert unknown.status_code == 404
