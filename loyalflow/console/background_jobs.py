"""Reports too slow for a page request, computed in a background thread of the API process while
the page says "computing" and polls (the dashboard's KPI snapshots, a journey's figures).

One computation at a time (they are heavy, and the machine's cores serve the pages too), never
two for the same key; a failure is kept, with its message, until the next attempt, so the page
can show it.
"""

import logging
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)
Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class JobState:
    running: bool
    error: str | None = None  # the last attempt's failure, when not running


class BackgroundJobs(Generic[Key]):
    def __init__(self, name: str, on_done: Callable[[Key, Any], None] | None = None) -> None:
        """`on_done(key, result)`: called with each successful result (in the worker thread)."""
        self._lock = threading.Lock()
        self._running: dict[Key, Future[Any]] = {}
        self._errors: dict[Key, str] = {}
        self._on_done = on_done
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def start(self, key: Key, compute: Callable[[], Any]) -> None:
        """Runs `compute` unless the same key is being computed already."""
        with self._lock:
            if key in self._running:
                return
            self._errors.pop(key, None)
            future = self._executor.submit(compute)
            self._running[key] = future
        future.add_done_callback(lambda done: self._finished(key, done))

    def _finished(self, key: Key, done: Future[Any]) -> None:
        error = None if done.cancelled() else done.exception()
        if error is None and not done.cancelled() and self._on_done is not None:
            self._on_done(key, done.result())
        with self._lock:
            self._running.pop(key, None)
            if error is not None:
                self._errors[key] = f"{type(error).__name__}: {error}"
        if error is not None:
            log.error("background computation for %s failed", key, exc_info=error)

    def state(self, key: Key) -> JobState:
        with self._lock:
            return JobState(running=key in self._running, error=self._errors.get(key))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
