"""Logging for loyalflow's processes: readable text lines, or JSON objects for log collectors.

`LOYALFLOW_LOG_FORMAT=json` writes one JSON object per line (python-json-logger): the time, level,
logger and message, plus whatever a record carries in `extra` (a failed send adds `channel`,
`message_id`, `reason`, `attempt` and `next_retry_in_seconds`), and the traceback under
`exc_info` when there is one.
"""

import logging
import sys
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

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
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
