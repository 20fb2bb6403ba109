"""HTTP latency by route template: a pure ASGI middleware around the whole app.

The route label is the matched route's template (`/members/{member_id}`), never the raw path,
so a million members make one series, not a million; a path no route matches is `unmatched`.
"""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loyalflow.observability.metrics import http_request_duration

UNMATCHED = "unmatched"
# Any other method a client invents is `other`: the label stays bounded.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    """The template of the route the router matched (it records it in the scope)."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else UNMATCHED


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the response started answers 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            http_request_duration.labels(
                method=scope["method"] if scope["method"] in METHODS else "other",
                route=route_template(scope),
                status=str(status),
            ).observe(time.perf_counter() - started)
