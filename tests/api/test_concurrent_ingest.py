"""Two API processes ingesting purchases for the same member at once never lose an update."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from loyalflow.config import Settings
from tests.conftest import free_port
from tests.processes import loyalflow_env, start, wait_for_http

PURCHASES = 40


def test_concurrent_purchases_through_two_api_processes(
    settings: Settings, dev_server_env: WorkflowEnvironment, member_id: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={"temporal_address": dev_server_env.client.service_client.config.target_host}
    )
    ports = [free_port(), free_port()]
    apis = [
        start(
            ["api"], loyalflow_env(settings, LOYALFLOW_API_PORT=str(port)), tmp_path / f"{port}.log"
        )
        for port in ports
    ]
    try:
        for port, api in zip(ports, apis, strict=True):
            wait_for_http(f"http://127.0.0.1:{port}/healthz", api, tmp_path / f"{port}.log", 60)
        base = [f"http://127.0.0.1:{port}" for port in ports]
        joined = {"event_id": str(uuid.uuid4()), "member_id": member_id, "type": "member.joined"}
        httpx.post(f"{base[0]}/events", json={**joined, "occurred_at": "2026-05-01T10:00:00Z"})

        def purchase(index: int) -> int:
            body = {
                "event_id": str(uuid.uuid4()),
                "member_id": member_id,
                "type": "purchase",
                "occurred_at": "2026-05-02T10:00:00Z",
                "properties": {"amount": 12.5},
            }
            return httpx.post(f"{base[index % 2]}/events", json=body, timeout=60).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(purchase, range(PURCHASES)))
        assert statuses == [202] * PURCHASES

        member = httpx.get(f"{base[1]}/members/{member_id}").json()
        assert member["purchase_count"] == PURCHASES
        assert member["total_spent"] == 12.5 * PURCHASES
        assert member["points"] == 12 * PURCHASES  # 12.5 earns 12 points, rounded down
        assert member["first_purchase_at"] == "2026-05-02T10:00:00Z"
    finally:
        for api in apis:
            api.terminate()
            api.wait(timeout=30)
