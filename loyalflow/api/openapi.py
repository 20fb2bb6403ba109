"""The OpenAPI document names the event types this installation accepts: the built-in ones and
those declared in events.yaml, so generated clients and the docs page offer exactly them."""

from typing import Any

from fastapi import FastAPI

from loyalflow.catalog.event_types import EventTypes


def describe_event_types(app: FastAPI, event_types: EventTypes) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            event_type = schema["components"]["schemas"]["EventIn"]["properties"]["type"]
            event_type["enum"] = list(event_types.ingestible)
            declared = ", ".join(sorted(event_types.declared)) or "none"
            event_type["description"] = (
                f"A built-in type, or a custom type declared in events.yaml (here: {declared})"
            )
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]
