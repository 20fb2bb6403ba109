"""POST /members/{id}/redemptions over HTTP: 201, idempotent 200, 409 and 422 naming the cause."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from loyalflow.cli.app import app as cli
from loyalflow.config import Settings

REWARDS = """rewards:
  - id: coffee
    name: {en: Coffee, fr: Café}
    cost: 150
"""


@pytest.fixture
def api_settings(api_settings: Settings, tmp_path: Path) -> Settings:
    rewards = tmp_path / "rewards.yaml"
    rewards.write_text(REWARDS)
    return api_settings.model_copy(update={"rewards_file": rewards})


def member_with_points(client: TestClient, member_id: str, amount: int) -> None:
    client.put(f"/members/{member_id}", json={"email": "ada@example.com"})
    response = client.post(
        "/events",
        json={
            "event_id": f"{member_id}-buy",
            "member_id": member_id,
            "type": "purchase",
            "occurred_at": "2026-11-01T10:00:00Z",
            "properties": {"amount": amount},
        },
    )
    assert response.status_code == 202


def test_redeem_then_repeat_then_run_out(client: TestClient, member_id: str) -> None:
    member_with_points(client, member_id, 200)
    body = {"redemption_id": "r-1", "reward_id": "coffee"}
    first = client.post(f"/members/{member_id}/redemptions", json=body)
    repeat = client.post(f"/members/{member_id}/redemptions", json=body)
    short = client.post(
        f"/members/{member_id}/redemptions", json={"redemption_id": "r-2", "reward_id": "coffee"}
    )

    assert first.status_code == 201 and first.json()["balance"] == 50
    assert repeat.status_code == 200 and repeat.json() == first.json()
    assert short.status_code == 409
    assert short.json() == {"detail": "not enough points: balance 50, cost 150"}
    member = client.get(f"/members/{member_id}").json()
    assert member["points"] == 50
    assert member["loyalty"] == {
        "balance": 50,
        "expiring_next": 0,  # the shipped rules: points never expire
        "expiring_at": None,
        "lifetime_earned": 200,
        "lifetime_redeemed": 150,
        "lifetime_expired": 0,
        "tier": "Bronze",
        "next_tier": "Silver",
        "points_to_next_tier": 450,
    }


def test_an_unknown_reward_is_422_naming_the_field(client: TestClient, member_id: str) -> None:
    member_with_points(client, member_id, 500)
    response = client.post(
        f"/members/{member_id}/redemptions", json={"redemption_id": "r-1", "reward_id": "yacht"}
    )
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "reward_id"] and "unknown reward 'yacht'" in problem["msg"]
    assert client.get(f"/members/{member_id}").json()["points"] == 500


def test_an_unknown_member_is_404(client: TestClient) -> None:
    response = client.post(
        "/members/nobody-here/redemptions", json={"redemption_id": "r", "reward_id": "coffee"}
    )
    assert response.status_code == 404


def test_the_cli_redeems_like_the_api(
    client: TestClient, api_settings: Settings, member_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    member_with_points(client, member_id, 160)
    monkeypatch.setenv("LOYALFLOW_DATABASE_URL", api_settings.effective_database_url)
    monkeypatch.setenv("LOYALFLOW_REWARDS_FILE", str(api_settings.rewards_file))
    monkeypatch.setenv("LOYALFLOW_TEMPORAL_ADDRESS", str(api_settings.temporal_address))
    from loyalflow.config import get_settings

    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(cli, ["member", "redeem", member_id, "coffee", "--id", "c-1"])
        refused = CliRunner().invoke(cli, ["member", "redeem", member_id, "coffee", "--id", "c-2"])
        shown = CliRunner().invoke(cli, ["member", "get", member_id])
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    assert "balance 10" in done.output
    assert '"lifetime_redeemed": 150' in shown.output, shown.output
    assert refused.exit_code == 1
    assert "not enough points: balance 10, cost 150" in refused.output
