"""`loyalflow up` as an operator sees its output: JSON lines on request, a quiet Ctrl-C, and no
process left behind when the supervisor itself is killed."""

import json
import os
import signal
import socket
import time
from pathlib import Path

from tests.conftest import free_port
from tests.processes import children_of, start, wait_for_log

READY = "Press Ctrl-C to stop."
WORKER_READY = "worker polling task queue"


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def up_env(home: Path, **extra: str) -> tuple[dict[str, str], list[int]]:
    ports = [free_port(), free_port(), free_port(), free_port()]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALFLOW_")}
    env.update(
        LOYALFLOW_HOME=str(home),
        LOYALFLOW_TEMPORAL_PORT=str(ports[0]),
        LOYALFLOW_TEMPORAL_UI_PORT=str(ports[1]),
        LOYALFLOW_API_PORT=str(ports[2]),
        LOYALFLOW_PUBLIC_URL=f"http://127.0.0.1:{ports[2]}",
        LOYALFLOW_WORKER_METRICS_PORT=str(ports[3]),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env, ports


def test_ctrl_c_stops_up_quietly_and_json_logs_are_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env, ports = up_env(home, LOYALFLOW_LOG_FORMAT="json")
    log = tmp_path / "up.log"
    up = start(["up"], env, log)  # its own process group, as a shell starts a command
    try:
        wait_for_log(log, READY, up, timeout=120)
        wait_for_log(log, WORKER_READY, up, timeout=60)
        time.sleep(2)  # the worker polling, schedules created: a steady state
        os.killpg(up.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
        assert up.wait(timeout=60) == 0
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
    output = log.read_text()

    assert "stopped." in output
    for noise in ("level=WARN", " WARNING ", '"level": "WARNING"', "Traceback"):
        assert noise not in output, output
    assert not any(port_open(port) for port in ports)
    # The dev server's own output is kept for whoever needs it, out of the operator's way.
    assert (home / "temporal.log").exists()
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    loggers = {record["logger"] for record in records}
    assert {"loyalflow.runtime.worker", "uvicorn.error"} <= loggers
    worker_ready = next(r for r in records if r["message"].startswith(WORKER_READY))
    assert worker_ready["level"] == "INFO" and worker_ready["time"]


def test_children_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    env, ports = up_env(tmp_path / "home")
    log = tmp_path / "up.log"
    up = start(["up"], env, log)
    try:
        wait_for_log(log, READY, up, timeout=120)
        os.kill(up.pid, signal.SIGKILL)  # only the supervisor
        up.wait(timeout=10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(port_open(port) for port in ports):
            time.sleep(0.3)
        assert not any(port_open(port) for port in ports), "a child outlived its supervisor"
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)


def test_temporal_core_warnings_are_json_lines_too(tmp_path: Path) -> None:
    env, _ = up_env(tmp_path / "home", LOYALFLOW_LOG_FORMAT="json")
    log = tmp_path / "up.log"
    up = start(["up"], env, log)
    try:
        wait_for_log(log, WORKER_READY, up, timeout=120)
        children = children_of(up.pid)
        temporal = next(pid for pid, command in children.items() if "start-dev" in command)
        os.kill(up.pid, signal.SIGSTOP)  # the supervisor would stop everything at once
        os.kill(temporal, signal.SIGKILL)
        # The worker's pollers (Temporal's Rust core) retry, and warn about it.
        wait_for_log(log, "temporalio.core", up, timeout=30)
        os.kill(up.pid, signal.SIGCONT)
        up.wait(timeout=60)
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
    core = [line for line in log.read_text().splitlines() if "temporalio.core" in line]
    assert core and all(json.loads(line)["level"] == "WARNING" for line in core)
    assert "color_message" not in log.read_text()


def test_up_names_a_taken_worker_metrics_port_instead_of_restarting_the_worker(
    tmp_path: Path,
) -> None:
    env, ports = up_env(tmp_path / "home")
    log = tmp_path / "up.log"
    with socket.socket() as taken:  # e.g. another `loyalflow up` on this host
        taken.bind(("127.0.0.1", ports[3]))
        taken.listen()
        up = start(["up"], env, log)
        try:
            code = up.wait(timeout=120)
        finally:
            if up.poll() is None:
                os.killpg(up.pid, signal.SIGKILL)
    output = " ".join(log.read_text().split())  # Rich wraps long lines at the terminal's width

    assert code == 1
    assert f"the worker's metrics port 127.0.0.1:{ports[3]} is in use" in output
    assert "LOYALFLOW_WORKER_METRICS_PORT" in output and "restarting" not in output
    assert not any(port_open(port) for port in ports[:3])  # Temporal stopped again
