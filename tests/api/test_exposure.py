"""Safe by default when exposed: no open API on a network address, tokens compared safely."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from loyalflow.api.app import OpenApiRefused, create_app
from loyalflow.config import Settings
from tests.api.conftest import API_TOKEN


def settings_for(home: Path, **values: object) -> Settings:
    return Settings(home=home, _env_file=None, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "loyalty.example.com", ""])
def test_an_exposed_api_without_a_token_refuses_to_start(tmp_path: Path, host: str) -> None:
    settings = settings_for(tmp_path, api_host=host)

    with pytest.raises(OpenApiRefused) as refused:
        create_app(settings)

    assert "LOYALFLOW_API_TOKEN" in str(refused.value)
    assert "LOYALFLOW_ALLOW_OPEN_API=true" in str(refused.value)


@pytest.mark.parametrize(
    "values",
    [
        {"api_host": "127.0.0.1"},
        {"api_host": "127.0.0.53"},
        {"api_host": "::1"},
        {"api_host": "[::1]"},
        {"api_host": "localhost"},
        {"api_host": "0.0.0.0", "api_token": "t0ken"},
        {"api_host": "0.0.0.0", "allow_open_api": True},
    ],
)
def test_loopback_a_token_or_an_explicit_override_may_start(
    tmp_path: Path, values: dict[str, object]
) -> None:
    assert settings_for(tmp_path, **values).open_api_refusal() is None


def test_an_empty_token_is_no_token(tmp_path: Path) -> None:
    assert settings_for(tmp_path, api_host="0.0.0.0", api_token="").open_api_refusal() is not None


def test_the_api_command_says_what_to_set_and_exits(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LOYALFLOW_HOME": str(tmp_path),
        "LOYALFLOW_API_HOST": "0.0.0.0",
        "LOYALFLOW_API_TOKEN": "",
        "LOYALFLOW_ALLOW_OPEN_API": "false",
        "COLUMNS": "80",
    }
    for command in ("api", "up"):
        result = subprocess.run(
            [sys.executable, "-m", "loyalflow", command],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert result.returncode == 2, result.stderr
        message = " ".join(result.stderr.split())
        assert "refusing to serve the API on 0.0.0.0:8000 without a token" in message
        assert "LOYALFLOW_API_TOKEN" in message
        assert "LOYALFLOW_ALLOW_OPEN_API=true" in message


def test_public_url_follows_the_api_port_unless_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOYALFLOW_API_PORT", "8080")
    assert settings_for(tmp_path).public_url == "http://127.0.0.1:8080"
    assert settings_for(tmp_path, api_host="::1").public_url == "http://[::1]:8080"
    assert settings_for(tmp_path, api_host="0.0.0.0", api_token="t").public_url == (
        "http://127.0.0.1:8080"
    )
    monkeypatch.setenv("LOYALFLOW_PUBLIC_URL", "https://loyalty.example.com/")
    assert settings_for(tmp_path).public_url == "https://loyalty.example.com"


@pytest.mark.parametrize("given", ["wrong", "s3cret-tokeñ", "s3cret-token\x7f", API_TOKEN[:-1]])
def test_a_wrong_token_of_any_shape_is_401_not_500(api_settings: Settings, given: str) -> None:
    secured = api_settings.model_copy(update={"api_token": SecretStr(API_TOKEN)})
    with TestClient(create_app(secured)) as client:
        response = client.get(
            "/members/M-1", headers={"Authorization": f"Bearer {given}".encode("latin-1")}
        )
        accepted = client.get("/members/M-1", headers={"Authorization": f"Bearer {API_TOKEN}"})

    assert response.status_code == 401, response.text
    assert accepted.status_code == 404
