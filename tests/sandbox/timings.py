"""The sandbox's start, phase by phase: when each phase began and ended (phases that do not depend on each
other run at once, in threads), printed by `python -m tests.sandbox --timings`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Phase:
    name: str
    began: float  # seconds since the start
    ended: float

    @property
    def seconds(self) -> float:
        return self.ended - self.began


@dataclass
class Timings:
    started: float = field(default_factory=time.monotonic)
    phases: list[Phase] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def since_start(self) -> float:
        return time.monotonic() - self.started

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Records the time the block took (also when it fails: the report then shows how far it got)."""
        began = self.since_start()
        try:
            yield
        finally:
            with self._lock:
                self.phases.append(Phase(name, began, self.since_start()))

    def timed(self, name: str, function: Callable[[], Any]) -> Callable[[], Any]:
        """`function` as a phase of its own."""
        def run() -> Any:
            with self.phase(name):
                return function()
        return run

    def lines(self) -> list[str]:
        """One line per phase in the order they began, then the total."""
        width = max((len(phase.name) for phase in self.phases), default=0)
        lines = [f"sandbox: phase {phase.name:<{width}} {phase.seconds:5.2f}s "
                 f"({phase.began:5.2f}s -> {phase.ended:5.2f}s)"
                 for phase in sorted(self.phases, key=lambda phase: phase.began)]
        return [*lines, f"sandbox: total {self.since_start():.2f}s"]


class Concurrent:
    """Runs functions in threads of their own; `wait()` returns their results, or raises the first failure as
    soon as it happens (the others are left to fail on their own once the sandbox stops their processes)."""

    def __init__(self) -> None:
        self._done = threading.Condition()
        self._results: dict[str, Any] = {}
        self._failures: list[BaseException] = []
        self._names: list[str] = []

    def start(self, name: str, function: Callable[[], Any]) -> None:
        self._names.append(name)
        threading.Thread(target=self._run, args=(name, function), name=f"start {name}", daemon=True).start()

    def _run(self, name: str, function: Callable[[], Any]) -> None:
        try:
            result = function()
        except BaseException as error:  # handed to the thread that waits
            with self._done:
                self._failures.append(error)
                self._done.notify_all()
            return
        with self._done:
            self._results[name] = result
            self._done.notify_all()

    def wait(self) -> dict[str, Any]:
        with self._done:
            self._done.wait_for(lambda: self._failures or len(self._results) == len(self._names))
            if self._failures:
                raise self._failures[0]
            return dict(self._results)
