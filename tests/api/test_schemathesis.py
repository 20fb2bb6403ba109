"""Schemathesis against the live app: every operation, generated valid and invalid requests;
no 500, and every answer conforms to the OpenAPI document (status, headers, body)."""

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from pydantic import SecretStr
from schemathesis.checks import CheckFunction
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import positive_data_acceptance

from loyalflow.api.app import create_app
from loyalflow.config import Settings
from tests.api.conftest import API_TOKEN

# Enough to find the classes of failure seen so far (overflows, path values, headers) while
# keeping the run, on both databases, within a couple of minutes on a shared machine.
EXAMPLES_PER_OPERATION = 20
# Every check runs except "schema-valid data is accepted": JSON Schema cannot say that a phone
# number must exist in its country's plan, a timezone must be in the IANA list, or an event type
# must be configured; those get a 422 naming the field, which the other checks do verify.

# The document does not depend on settings; the requests go to a started app (`live_app`).
schema = schemathesis.openapi.from_dict(create_app(Settings(_env_file=None)).openapi())


@pytest.fixture
def live_app(api_settings: Settings) -> Iterator[FastAPI]:
    """Configured as in production: API token, payload codec with its token, Twilio webhooks
    (whose signature Schemathesis cannot forge: those answer 403, as documented)."""
    secured = api_settings.model_copy(
        update={
            "api_token": SecretStr(API_TOKEN),
            "codec_keys": SecretStr(f"k1:{base64.b64encode(bytes(32)).decode()}"),
            "codec_token": SecretStr(API_TOKEN),
            "twilio_auth_token": SecretStr("twilio-auth-token"),
        }
    )
    app = create_app(secured)
    # Entering the client runs the lifespan (database check, Temporal connection) once; the
    # requests Schemathesis makes then reach the started app.
    with TestClient(app):
        yield app


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_answers_as_documented(
    case: schemathesis.Case[Any], live_app: FastAPI
) -> None:
    # Checks that send requests of their own (without the token, other methods) reach it too.
    case.operation.schema.app = live_app
    case.call_and_validate(
        app=live_app,
        headers={"Authorization": f"Bearer {API_TOKEN}"},
        excluded_checks=[positive_data_acceptance],
    )


def test_stateful_sequences_follow_the_declared_links(live_app: FastAPI) -> None:
    """PUT a member, then read it and its timeline through the links the document declares."""
    schema.app = live_app
    auth = {"Authorization": f"Bearer {API_TOKEN}"}

    class LinkedCalls(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            return {"app": live_app, "headers": auth}

        def validate_response(
            self,
            response: Response,
            case: schemathesis.Case[Any],
            additional_checks: list[CheckFunction] | None = None,
            **kwargs: Any,
        ) -> None:
            case.validate_response(
                response,
                excluded_checks=[positive_data_acceptance],
                headers=auth,
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    run_state_machine_as_test(
        LinkedCalls,
        settings=settings(
            max_examples=10,
            stateful_step_count=4,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        ),
    )
