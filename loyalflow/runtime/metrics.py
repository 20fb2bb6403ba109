"""A worker's metrics port: loyalflow's own metrics and the Temporal SDK's, in one scrape.

The SDK's Rust core serves its metrics (`temporal_workflow_completed`, `temporal_request`,
`temporal_activity_execution_latency`...) from an HTTP server of its own; it is bound to a free
loopback port nobody scrapes directly, and the worker's port (LOYALFLOW_WORKER_METRICS_PORT)
appends its text to prometheus_client's. The SDK's names and units are left as Temporal
documents them (counters without `_total`, durations in milliseconds), so Temporal's published
dashboards work unchanged.
"""

import logging
import socket

from temporalio.runtime import PrometheusConfig

from loyalflow.config import Settings
from loyalflow.observability.exposition import WorkerMetricsServer, scrape_tokens
from loyalflow.runtime.logs import forward_temporal_core_logs

log = logging.getLogger(__name__)
BIND_ATTEMPTS = 5


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def temporal_sdk_metrics() -> str:
    """Starts the SDK's exporter (and the core log forwarding) on the process's Temporal
    runtime; returns the address it serves. Call before the first client connects."""
    for attempt in range(BIND_ATTEMPTS):
        address = f"127.0.0.1:{free_loopback_port()}"
        try:
            forward_temporal_core_logs(PrometheusConfig(bind_address=address))
            return address
        except ValueError:  # another process took the port between the probe and the bind
            if attempt == BIND_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def serve_worker_metrics(settings: Settings) -> WorkerMetricsServer | None:
    """The worker's metrics port, or None when LOYALFLOW_WORKER_METRICS_PORT is not set (the
    core logs are still forwarded). Raises MetricsPortInUse, naming the port, when it is taken."""
    if settings.worker_metrics_port is None:
        forward_temporal_core_logs()
        return None
    server = WorkerMetricsServer(
        settings.worker_metrics_host,
        settings.worker_metrics_port,
        temporal_url=None,
        tokens=scrape_tokens(settings),
    )
    server.temporal_url = f"http://{temporal_sdk_metrics()}/metrics"
    server.start()
    log.info(
        "worker metrics on http://%s:%d/metrics",
        settings.worker_metrics_host,
        server.port,
    )
    return server
