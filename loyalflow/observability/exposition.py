"""The text exposition of a process's metrics, and the small HTTP server a worker serves it on.

A worker's port answers `GET /metrics` with prometheus_client's registry followed by the Temporal
SDK's own metrics, which the SDK's Rust core serves on a loopback address of its own: one port to
scrape per worker. Always the classic text format (0.0.4): the two parts concatenate into one
valid document, which the OpenMetrics format (with its `# EOF` terminator) would not allow.
"""

import hmac
import logging
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from loyalflow.config import Settings

log = logging.getLogger(__name__)
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
TEMPORAL_SCRAPE_TIMEOUT_SECONDS = 5.0


class MetricsPortInUse(OSError):
    """The configured metrics port is taken (often: another worker on the same host)."""


def scrape_tokens(settings: Settings) -> list[str]:
    """The bearer tokens GET /metrics accepts: the read-only metrics token and the API token,
    whichever are set (none: open, like the rest of an API without a token)."""
    secrets = (settings.metrics_token, settings.api_token)
    return [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]


def bearer_accepted(header: str | None, tokens: list[str]) -> bool:
    """No token configured: open. Otherwise `Authorization: Bearer <one of them>`, compared in
    constant time."""
    if not tokens:
        return True
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    raw = given.strip().encode("utf-8", "surrogateescape")
    return any(hmac.compare_digest(raw, t.encode("utf-8", "surrogateescape")) for t in tokens)


def exposition(*registries: CollectorRegistry) -> bytes:
    return b"".join(generate_latest(registry) for registry in registries)


def scrape_text(url: str) -> bytes:
    """Another exporter's text (the Temporal SDK's); a comment saying why when it does not answer,
    so the process's own metrics still reach Prometheus."""
    try:
        with urllib.request.urlopen(url, timeout=TEMPORAL_SCRAPE_TIMEOUT_SECONDS) as answer:
            body: bytes = answer.read()
    except OSError as exc:
        log.warning("could not read the Temporal SDK's metrics at %s: %s", url, exc)
        return f"# Temporal SDK metrics unavailable: {exc}\n".encode()
    return body if body.endswith(b"\n") or not body else body + b"\n"


class WorkerMetricsServer:
    """`GET /metrics` on host:port, in a daemon thread; bound at construction so that a port in
    use fails the worker's start, with the port named, rather than its first scrape."""

    def __init__(
        self, host: str, port: int, *, temporal_url: str | None, tokens: list[str]
    ) -> None:
        # Read at each scrape: the worker learns the SDK's address after binding its own port.
        self.temporal_url = temporal_url
        handler = _handler(self, tokens)
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise MetricsPortInUse(
                f"cannot serve worker metrics on {host}:{port}: {exc.strerror or exc}. Each "
                "worker on a host needs its own LOYALFLOW_WORKER_METRICS_PORT (unset it to "
                "run without a metrics port)"
            ) from exc
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="worker-metrics", daemon=True
        )

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(server: WorkerMetricsServer, tokens: list[str]) -> type[BaseHTTPRequestHandler]:
    class MetricsHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self._answer(404, b"not found: metrics are at /metrics\n")
                return
            if not bearer_accepted(self.headers.get("Authorization"), tokens):
                self._answer(401, b"missing or wrong bearer token\n", bearer=True)
                return
            body = exposition(REGISTRY)
            if server.temporal_url is not None:
                body += scrape_text(server.temporal_url)
            self._answer(200, body, content_type=CONTENT_TYPE)

        def _answer(
            self,
            status: int,
            body: bytes,
            *,
            content_type: str = "text/plain; charset=utf-8",
            bearer: bool = False,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if bearer:
                self.send_header("WWW-Authenticate", "Bearer")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("metrics request: " + format, *args)

    return MetricsHandler
