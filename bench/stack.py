"""The benchmarks' shared stack: `loyalflow up` on free ports, health checks, stopping it, CPU
sampling of its processes (from /proc), a PostgreSQL schema per run, and py-spy profiles.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

HEALTH_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 30
RESULTS_DIR = Path(__file__).resolve().parent / "results"
console = Console()


@dataclass(frozen=True)
class Stack:
    home: Path
    api_url: str
    temporal_address: str
    pid: int  # `loyalflow up`

    @property
    def outbox(self) -> Path:
        return self.home / "outbox"

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by each child of `loyalflow up` and by this process (Linux)."""
        usage = {"bench": time.process_time()}
        for child in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split():
            args = Path(f"/proc/{child}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
            name = "temporal" if b"start-dev" in args else args[-1].decode()
            stat = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            # Several workers (`loyalflow up --workers N`) add up under one name.
            cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
            usage[name] = usage.get(name, 0.0) + cpu
        return usage


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_healthy(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"`loyalflow up` exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200 within {HEALTH_TIMEOUT_SECONDS}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # it stops its children: API, worker, Temporal
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the whole tree
        process.wait()


@contextmanager
def loyalflow_up(home: Path, extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    """`python -m loyalflow up` on free ports; `extra_env` adds settings (e.g. a database URL)."""
    temporal_port, ui_port, api_port, metrics_port = free_ports(4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALFLOW_")}
    env |= {
        "LOYALFLOW_HOME": str(home),
        "LOYALFLOW_TEMPORAL_PORT": str(temporal_port),
        "LOYALFLOW_TEMPORAL_UI_PORT": str(ui_port),
        "LOYALFLOW_API_PORT": str(api_port),
        # Its fixed default (9469) would stop a second stack on the machine from starting.
        "LOYALFLOW_WORKER_METRICS_PORT": str(metrics_port),
    }
    env |= extra_env or {}
    log_path = home / "up.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "loyalflow", "up"],
            env=env,
            cwd=home,  # no stray .env file is read
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        stack = Stack(
            home, f"http://127.0.0.1:{api_port}", f"127.0.0.1:{temporal_port}", process.pid
        )
        try:
            console.print(f"starting `loyalflow up` in {home} …")
            began = time.monotonic()
            wait_healthy(process, f"{stack.api_url}/healthz")
            console.print(f"healthy after {time.monotonic() - began:.1f}s")
            yield stack
        except BaseException:
            tail = log_path.read_text(errors="replace").splitlines()[-40:]
            console.print("[red]failed; last lines of `loyalflow up`:[/red]", *tail, sep="\n")
            raise
        finally:
            console.print("stopping `loyalflow up` …")
            stop(process)


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks) - idle, sum(ticks)


@contextmanager
def pg_schema(base_url: str, schema: str) -> Iterator[str]:
    """A fresh schema, dropped afterwards; yields a URL whose search_path is that schema."""
    engine = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        yield (
            make_url(base_url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with engine.connect() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


def child_pids(stack: Stack, name: str) -> list[int]:
    """The pids of `loyalflow api`, `loyalflow worker` (N of them under `--workers N`) or (name
    "temporal") the dev server, oldest first."""
    found = []
    for child in Path(f"/proc/{stack.pid}/task/{stack.pid}/children").read_text().split():
        args = Path(f"/proc/{child}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        if args[-1].decode() == name or (name == "temporal" and b"start-dev" in args):
            found.append(int(child))
    return sorted(found)


def child_pid(stack: Stack, name: str) -> int | None:
    """The first of `child_pids`, or None."""
    return next(iter(child_pids(stack, name)), None)


@contextmanager
def profiled(py_spy: Path | None, stack: Stack, label: str, *, gil: bool = False) -> Iterator[None]:
    """py-spy (sampling, 100 Hz) on the API and the worker, collapsed stacks to bench/results;
    and `perf record` on the Temporal server when `perf` is installed. `gil`: sample only the
    thread holding the GIL, i.e. where Python spends CPU, not where it waits."""
    if py_spy is None:
        yield
        return
    RESULTS_DIR.mkdir(exist_ok=True)
    recorders: list[subprocess.Popen[bytes]] = []
    for name in ("api", "worker"):
        pid = child_pid(stack, name)
        if pid is None:
            continue
        out = RESULTS_DIR / f"{label}-{name}.txt"
        command = [str(py_spy), "record", "--pid", str(pid), "--format", "raw", "-r", "100"]
        command += ["--gil"] if gil else []
        recorders.append(
            subprocess.Popen(
                [*command, "--nonblocking", "-o", str(out)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    temporal, perf = child_pid(stack, "temporal"), shutil.which("perf")
    if temporal is not None and perf is not None:  # the Go server: `perf report -i` reads it
        out = RESULTS_DIR / f"{label}-temporal.perf"
        command = [perf, "record", "-F", "99", "-g", "-p", str(temporal), "-o", str(out)]
        recorders.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            recorder.wait(timeout=60)
