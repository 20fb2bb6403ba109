"""Where a demo's time goes, measured from inside without changing its code: put this directory
first on PYTHONPATH (`PYTHONPATH=bench/demo_probe bench/demo.sh probe 1`) and every Python
process of the run (the demo and its worker processes) loads it at start.

At exit each process appends one line to `$LOYALFLOW_DEMO_PROBE` (default
`bench/results/demo-probe.log`): its CPU seconds (own, and reaped children's: the worker
processes and the test server, for the demo), the SQLite write turns it took, the seconds its
threads waited for a turn and held one (`SqliteWriteQueue.begin` to commit or rollback), and,
in the demo's process, the seconds the driver awaited each `Simulation` method.
"""

import atexit
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

_LOG = Path(
    os.environ.get(
        "LOYALFLOW_DEMO_PROBE", Path(__file__).resolve().parent.parent / "results/demo-probe.log"
    )
)
_turns = {"turns": 0, "wait": 0.0, "held": 0.0, "max_held": 0.0}
_awaited: dict[str, list[float]] = {}
_local = threading.local()


def _probe_write_turns(db: ModuleType) -> None:
    queue = db.SqliteWriteQueue
    begin, end = queue.begin, queue.end

    def timed_begin(self: Any, connection: Any) -> None:
        if connection.get_execution_options().get(db.READ_ONLY):
            begin(self, connection)
            return
        asked = time.perf_counter()
        begin(self, connection)
        _local.got = time.perf_counter()
        _turns["turns"] += 1
        _turns["wait"] += _local.got - asked

    def timed_end(self: Any, connection: Any) -> None:
        held = id(connection) in self._held
        end(self, connection)
        if held:
            seconds = time.perf_counter() - _local.got
            _turns["held"] += seconds
            _turns["max_held"] = max(_turns["max_held"], seconds)

    queue.begin, queue.end = timed_begin, timed_end


def _probe_driver(environment: ModuleType) -> None:
    simulation = environment.Simulation
    for name in ("advance", "ingest", "sweep", "redeem", "now"):
        method = getattr(simulation, name)

        def timed(method: Callable[..., Any] = method, name: str = name) -> Callable[..., Any]:
            async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return await method(self, *args, **kwargs)
                finally:
                    _awaited.setdefault(name, []).append(time.perf_counter() - began)

            return call

        setattr(simulation, name, timed())


_PROBES = {
    "loyalflow.models.db": _probe_write_turns,
    "loyalflow.simulation.environment": _probe_driver,
}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a module's probe right after the module itself is executed."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        probe = _PROBES.pop(fullname, None)
        if probe is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        execute = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            probe(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _report() -> None:
    if "loyalflow.models.db" not in sys.modules:
        return  # not a process of the demo
    times = os.times()
    awaited = " ".join(
        f"{name}={len(calls)}/{sum(calls):.1f}s(max {max(calls):.2f})"
        for name, calls in sorted(_awaited.items())
    )
    line = (
        f"{time.strftime('%H:%M:%S', time.gmtime())} pid={os.getpid()} "
        f"{'worker' if 'worker_process' in ' '.join(sys.argv) else 'demo'} "
        f"cpu={times.user + times.system:.1f}s children={times.children_user + times.children_system:.1f}s "
        f"turns={_turns['turns']} wait={_turns['wait']:.1f}s held={_turns['held']:.1f}s "
        f"max_held={_turns['max_held']:.3f}s {awaited}\n"
    )
    _LOG.parent.mkdir(parents=True, exist_ok=True)
    with _LOG.open("a") as log:
        log.write(line)


sys.meta_path.insert(0, _AfterImport())
atexit.register(_report)
