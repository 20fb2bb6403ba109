"""Prism (`prism mock`) serving Twilio's own OpenAPI description of its REST API, on 127.0.0.1.

Twilio's description of `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` documents only the
201 answer. The fixture adds Twilio's error answers (401, 400 twice, 429, 503), with the body shape
Twilio really sends, then serves the patched copy. Prism validates every request against the
description: path parameters, form body, Basic auth.

A test picks the answer with Prism's `Prefer` request header (`code=429`,
`code=400, example=unsubscribed`), set on `PrismHttpClient`: twilio-python's own
`AsyncTwilioHttpClient`, which adds the header and keeps Prism's `sl-violations` report of what
the request got wrong. Nothing replaces the client's HTTP: it talks to Prism over TCP.

`PrismProxy` sits between a client and Prism when a test must know what reached Prism (a worker
process, whose HTTP client the test cannot reach into) or act between Prism's answer and the
client's reading it.

Prism and the description come from npm (`package.json`): run `npm ci` in the repository root.
"""

import copy
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response

from tests.conftest import free_port

REPO = Path(__file__).resolve().parent.parent
PRISM = REPO / "node_modules" / ".bin" / "prism"
TWILIO_SPEC = (
    REPO
    / "node_modules"
    / "@twilio-alpha"
    / "mcp"
    / "twilio-oai"
    / "spec"
    / "json"
    / "twilio_api_v2010.json"
)
MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
STARTUP_TIMEOUT_SECONDS = 60.0

# Example keys for `Prefer: code=400, example=...`.
INVALID_TO = "invalid_to"
UNSUBSCRIBED = "unsubscribed"


def twilio_error(code: int, status: int, message: str) -> dict[str, Any]:
    """The body of a Twilio REST API error (the 2010-04-01 API's shape)."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message", "more_info", "status"],
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "more_info": {"type": "string", "format": "uri"},
        "status": {"type": "integer"},
    },
}

ERRORS: dict[str, dict[str, dict[str, Any]]] = {
    "400": {
        INVALID_TO: twilio_error(
            21211, 400, "The 'To' number +15005550001 is not a valid phone number."
        ),
        UNSUBSCRIBED: twilio_error(21610, 400, "Attempt to send to unsubscribed recipient"),
    },
    "401": {"authenticate": twilio_error(20003, 401, "Authenticate")},
    "429": {"too_many_requests": twilio_error(20429, 429, "Too Many Requests")},
    "503": {"unavailable": twilio_error(20503, 503, "Service Unavailable")},
}


def with_message_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of the description whose Messages create operation also answers ERRORS."""
    patched = copy.deepcopy(spec)
    responses = patched["paths"][MESSAGES_PATH]["post"]["responses"]
    for status, examples in ERRORS.items():
        responses[status] = {
            "description": f"Twilio error ({status})",
            "content": {
                "application/json": {
                    "schema": ERROR_SCHEMA,
                    "examples": {key: {"value": body} for key, body in examples.items()},
                }
            },
        }
    return patched


def _require_node_modules() -> None:
    missing = [str(path.relative_to(REPO)) for path in (PRISM, TWILIO_SPEC) if not path.exists()]
    if missing:
        pytest.fail(
            f"missing {', '.join(missing)}: run `npm ci` in {REPO} (Node 20+) to install Prism "
            "and Twilio's OpenAPI description (package.json)",
            pytrace=False,
        )


def _answers(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # Prism's 404 for an unknown path: it is up.
    except OSError:
        return False


@pytest.fixture(scope="session")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a Prism mock of Twilio's REST API (api.twilio.com), started for the session."""
    _require_node_modules()
    workdir = tmp_path_factory.mktemp("prism")
    spec_path = workdir / "twilio_api_v2010.json"
    spec_path.write_text(json.dumps(with_message_errors(json.loads(TWILIO_SPEC.read_text()))))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = workdir / "prism.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, stopped as one
        )
    try:
        started = time.monotonic()
        while not _answers(base_url):
            if process.poll() is not None:
                pytest.fail(f"Prism exited ({process.returncode}):\n{log_path.read_text()}")
            if time.monotonic() - started > STARTUP_TIMEOUT_SECONDS:
                pytest.fail(f"Prism did not answer on {base_url}:\n{log_path.read_text()}")
            time.sleep(0.05)
        yield base_url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


class PrismHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """twilio-python's async HTTP client, plus Prism's `Prefer` header and violation reports."""

    def __init__(self) -> None:
        super().__init__()
        self.prefer: str | None = None  # e.g. "code=400, example=unsubscribed"; None: the 201
        self.violations: list[dict[str, Any]] = []  # Prism's `sl-violations`, every request

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the overridden signature)
        allow_redirects: bool = False,
    ) -> Response:
        headers = dict(headers or {})
        if self.prefer is not None:
            headers["Prefer"] = self.prefer
        response: Response = await super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
        report = (response.headers or {}).get("sl-violations")
        if report:
            self.violations.extend(json.loads(report))
        return response

    def request_violations(self) -> list[dict[str, Any]]:
        """What Prism found wrong in the requests (as opposed to in its own answers)."""
        return [v for v in self.violations if v.get("location", [None])[0] == "request"]


@pytest.fixture
async def prism_http_client() -> AsyncIterator[PrismHttpClient]:
    client = PrismHttpClient()  # aiohttp needs the running loop: built inside the test's loop
    yield client
    await client.close()


# Not forwarded either way: they describe one connection, not the request or its answer.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "content-length"}
)


@dataclass(frozen=True)
class Forwarded:
    """One request the proxy passed to Prism, and Prism's answer."""

    method: str
    path: str  # without the query
    form: dict[str, str]  # the urlencoded body (Twilio's API takes forms)
    status: int
    body: bytes

    @property
    def creates_a_message(self) -> bool:
        return self.method == "POST" and self.path.endswith("/Messages.json")


class PrismProxy:
    """A plain HTTP proxy on 127.0.0.1 in front of Prism that records every request it forwards.

    It runs in threads of its own, so a test may block its event loop (waiting for a process)
    while the proxy keeps serving. `after_answer`, if set, is called in the proxy's thread with
    each exchange once Prism has answered and before the answer is passed on: for a message
    creation that is the moment Twilio has accepted the message and the sender does not know yet.
    """

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.after_answer: Callable[[Forwarded], None] | None = None
        self._forwarded: list[Forwarded] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy._forward(self)

            do_POST = do_DELETE = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test reads `forwarded`, not a log

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def forwarded(self) -> list[Forwarded]:
        with self._lock:
            return list(self._forwarded)

    def messages_created(self) -> list[Forwarded]:
        """Every `POST .../Messages.json` that reached Prism, whatever Prism answered."""
        return [f for f in self.forwarded if f.creates_a_message]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream = urllib.request.Request(
            self.target + handler.path, data=body or None, headers=headers, method=handler.command
        )
        try:
            with urllib.request.urlopen(upstream, timeout=30) as answer:
                status, answer_headers, answer_body = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:  # a 4xx or 5xx is an answer too
            status, answer_headers, answer_body = error.code, error.headers, error.read()
        exchange = Forwarded(
            method=handler.command,
            path=urlsplit(handler.path).path,
            form=dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)),
            status=status,
            body=answer_body,
        )
        with self._lock:
            self._forwarded.append(exchange)
        if self.after_answer is not None:
            self.after_answer(exchange)
        try:
            handler.send_response(status)
            for name, value in answer_headers.items():
                # send_response wrote its own Date and Server.
                if name.lower() not in HOP_BY_HOP | {"date", "server"}:
                    handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(answer_body)))
            handler.end_headers()
            handler.wfile.write(answer_body)
        except OSError:
            pass  # the client is gone (a test killed it in `after_answer`)


@pytest.fixture
def prism_proxy(prism_url: str) -> Iterator[PrismProxy]:
    proxy = PrismProxy(prism_url)
    yield proxy
    proxy.close()
