"""Logging for loyalflow's processes: readable text lines, or JSON objects for log collectors.

`LOYALFLOW_LOG_FORMAT=json` writes one JSON object per line (python-json-logger): the time, level,
logger and message, plus whatever a record carries in `extra` (a failed send adds `channel`,
`message_id`, `reason`, `attempt` and `next_retry_in_seconds`), and the traceback under
`exc_info` when there is one.
"""

import logging
import sys
from typing import Literal

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "message")


def configure_logging(log_format: Literal["text", "json"], level: int = logging.INFO) -> None:
    """One handler on the root logger, to stderr; replaces any earlier configuration."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                list(JSON_FIELDS),
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                timestamp=False,
                # uvicorn repeats each message with terminal colour codes: not for a collector.
                reserved_attrs=[*RESERVED_ATTRS, "color_message"],
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def forward_temporal_core_logs(metrics: PrometheusConfig | None = None) -> None:
    """Temporal's Rust core writes its warnings straight to stderr in a format of its own; from
    here on they go through Python logging (logger `temporalio.core`), formatted like every other
    line (JSON included). Call it before the process's first Temporal client connects.

    `metrics`: the SDK's own Prometheus exporter, on the same runtime (runtime/metrics.py); the
    runtime is made here, so a port it cannot bind raises ValueError now.
    """
    core_logs = LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )
    Runtime.set_default(
        Runtime(telemetry=TelemetryConfig(logging=core_logs, metrics=metrics)),
        error_if_already_set=False,
    )
