"""`loyalflow up`: one process tree (Temporal, worker, bounce receiver, API) that stops cleanly on Ctrl-C/SIGTERM."""

import asyncio
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from loyalflow.config import Settings
from loyalflow.models.db import upgrade_database
from loyalflow.runtime.connection import connect
from loyalflow.runtime.embedded import dev_server_command
from loyalflow.setting_values import url_host

STOP_TIMEOUT_SECONDS = 20
# The worker's metrics port under `loyalflow up` when LOYALFLOW_WORKER_METRICS_PORT is not set.
UP_WORKER_METRICS_PORT = 9469
RESTART_DELAY_SECONDS = 2.0
MAX_PORT = 65535
PR_SET_PDEATHSIG = 1  # prctl(2)


class StartupFailed(RuntimeError):
    pass


@dataclass
class Child:
    name: str
    command: list[str]
    restart: bool
    process: subprocess.Popen[bytes] | None = None
    restarts: int = field(default=0)
    # Output to this file (appended) instead of the terminal.
    log_file: Path | None = None
    # Settings of this child alone, over the supervisor's environment (a worker's metrics port).
    env_overrides: dict[str, str] = field(default_factory=dict)

    def start(self, env: dict[str, str]) -> None:
        env = env | self.env_overrides
        # A process group of its own: Ctrl-C in the terminal reaches only the supervisor, which
        # stops the children in order (API, worker, then Temporal). Otherwise all of them get
        # SIGINT at once, and the worker's pollers log warnings as Temporal goes away under them.
        # Out of the terminal's group, a child is told to stop when the supervisor dies.
        options: dict[str, Any] = {"process_group": 0, "preexec_fn": _stop_with_parent}
        if self.log_file is None:
            self.process = subprocess.Popen(self.command, env=env, **options)
            return
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, env=env, stdout=log, stderr=subprocess.STDOUT, **options
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _stop_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervisor dies, even by SIGKILL (Linux)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    def __init__(self, settings: Settings, console: Console) -> None:
        self.settings = settings
        self.console = console
        self.children: list[Child] = []
        self.stopping = False
        self.env = self._child_env()

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["LOYALFLOW_HOME"] = str(self.settings.home)
        env["LOYALFLOW_TEMPORAL_ADDRESS"] = self.settings.effective_temporal_address
        return env

    @property
    def _worker_metrics_ports(self) -> list[int]:
        """One port per worker process, consecutive: each worker serves its own /metrics."""
        first = self.settings.worker_metrics_port or UP_WORKER_METRICS_PORT
        return [first + index for index in range(self.settings.up_workers)]

    def _check_worker_metrics_ports(self) -> None:
        """A taken port would make a worker exit and be restarted forever: said once, here."""
        host, ports = self.settings.worker_metrics_host, self._worker_metrics_ports
        if ports[-1] > MAX_PORT:
            raise StartupFailed(
                f"{len(ports)} workers need ports {ports[0]} to {ports[-1]} for their metrics; "
                "set LOYALFLOW_WORKER_METRICS_PORT lower"
            )
        for port in ports:
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((host, port))
                except OSError as exc:
                    raise StartupFailed(
                        f"the worker's metrics port {host}:{port} is in use ({exc.strerror}); "
                        "set LOYALFLOW_WORKER_METRICS_PORT to a free port (with several workers, "
                        "the first of as many free consecutive ports)"
                    ) from None

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        self.settings.home.mkdir(parents=True, exist_ok=True)
        try:
            self._start_all()
        except StartupFailed as exc:
            self.console.print(f"[red]loyalflow up failed:[/red] {exc}")
            self._stop_all()
            return 1
        if not self.stopping:
            self._print_endpoints()
        code = self._watch()
        self._stop_all()
        return code

    def _start_all(self) -> None:
        cli = [sys.executable, "-m", "loyalflow"]
        if self.settings.embedded_temporal:
            # The dev server's own warnings (its system workers losing their connection as it
            # shuts down, on every Ctrl-C) are not the operator's business; kept in a file.
            temporal = Child(
                "temporal",
                dev_server_command(self.settings),
                restart=False,
                log_file=self._temporal_log,
            )
            self._launch(temporal)
            self._wait_for_temporal(temporal)
        self.console.print("applying database migrations…")
        upgrade_database(self.settings.effective_database_url)
        self._check_worker_metrics_ports()
        for number, port in enumerate(self._worker_metrics_ports, start=1):
            name = "worker" if self.settings.up_workers == 1 else f"worker {number}"
            overrides = {"LOYALFLOW_WORKER_METRICS_PORT": str(port)}
            self._launch(Child(name, [*cli, "worker"], restart=True, env_overrides=overrides))
        self._launch(Child("bounces", [*cli, "bounces"], restart=True))
        api = Child("api", [*cli, "api"], restart=True)
        self._launch(api)
        self._wait_for_api(api)

    def _launch(self, child: Child) -> None:
        child.start(self.env)
        self.children.append(child)

    def _wait_for_temporal(self, temporal: Child, timeout: float = 60) -> None:
        self.console.print("starting the embedded Temporal server…")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping:
            if not temporal.alive:
                raise StartupFailed(
                    f"the Temporal dev server exited (port {self.settings.temporal_port} or "
                    f"{self.settings.temporal_ui_port} in use? set LOYALFLOW_TEMPORAL_PORT / "
                    f"LOYALFLOW_TEMPORAL_UI_PORT); its output is in {self._temporal_log}"
                )
            try:
                asyncio.run(connect(self.settings, wait_seconds=0))
                return
            except Exception:
                time.sleep(0.3)
        if not self.stopping:
            raise StartupFailed(f"Temporal did not answer within {timeout:.0f}s")

    def _wait_for_api(self, api: Child, timeout: float = 60) -> None:
        url = f"{self._api_url}/healthz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping:
            if not api.alive:
                raise StartupFailed(
                    f"the API exited during start-up (port {self.settings.api_port} in use? "
                    "set LOYALFLOW_API_PORT)"
                )
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        if not self.stopping:
            raise StartupFailed(f"the API did not answer on {url} within {timeout:.0f}s")

    @property
    def _temporal_log(self) -> Path:
        return self.settings.home / "temporal.log"

    @property
    def _api_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    def _print_endpoints(self) -> None:
        s = self.settings
        table = Table(title="loyalflow is running", show_header=False, title_justify="left")
        table.add_row("API", self._api_url)
        table.add_row("API docs", f"{self._api_url}/docs")
        table.add_row("Console", f"{self._api_url}/console/")
        table.add_row("API metrics", f"{self._api_url}/metrics")
        worker_host = url_host(s.worker_metrics_host)
        ports = self._worker_metrics_ports
        for number, port in enumerate(ports, start=1):
            label = "Worker metrics" if len(ports) == 1 else f"Worker {number} metrics"
            table.add_row(label, f"http://{worker_host}:{port}/metrics")
        table.add_row(
            "Temporal", s.effective_temporal_address + f" (namespace {s.temporal_namespace})"
        )
        if s.embedded_temporal:
            table.add_row("Temporal Web UI", f"http://127.0.0.1:{s.temporal_ui_port}")
        database = make_url(s.effective_database_url).render_as_string(hide_password=True)
        table.add_row("Database", database)
        table.add_row(
            "Email", f"SMTP {s.smtp_host}:{s.smtp_port}" if s.smtp_host else str(s.outbox_dir)
        )
        protocol = "LMTP" if s.bounce_lmtp else "SMTP"
        table.add_row("Bounce receiver", f"{protocol} {s.bounce_host}:{s.bounce_port}")
        self.console.print(table)
        self.console.print("First console user: loyalflow users add NAME --role admin")
        self.console.print("Press Ctrl-C to stop.")

    def _watch(self) -> int:
        while not self.stopping:
            for child in self.children:
                if child.alive or self.stopping:
                    continue
                code = child.process.returncode if child.process else None
                if not child.restart:
                    where = f"; see {child.log_file}" if child.log_file else ""
                    self.console.print(f"[red]{child.name} exited ({code}){where}; stopping[/red]")
                    return 1
                child.restarts += 1
                self.console.print(
                    f"[yellow]{child.name} exited ({code}); restarting (#{child.restarts})[/yellow]"
                )
                time.sleep(RESTART_DELAY_SECONDS)
                child.start(self.env)
            time.sleep(0.5)
        return 0

    def _stop_all(self) -> None:
        # Reverse order: stop taking requests, let the worker finish its tasks, then Temporal.
        for child in reversed(self.children):
            if not child.alive or child.process is None:
                continue
            self.console.print(f"stopping {child.name}…")
            child.process.send_signal(signal.SIGTERM)
            try:
                child.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        self.console.print("stopped.")
