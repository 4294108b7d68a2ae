"""The sandboxes of one test run: one per kind, each started once (`prepare` launches one ahead of the tests
that need it, `get` waits for it) and stopped as soon as no test is left for it; tests/conftest.py orders
the tests by kind and drives it.

Before it stops a sandbox the pool checks what must have held for the whole time it ran (its nodes stayed
Ready and untainted under the real node lifecycle controller, nothing was evicted, it stops cleanly); what
did not hold is in `problems`, and the run fails on it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.sandbox.running import RunningSandbox, SandboxKind, StartingSandbox


def assert_nodes_stayed_healthy(sandbox: RunningSandbox) -> None:
    nodes = sandbox.get("nodes")["items"]
    assert len(nodes) >= 2
    for node in nodes:
        conditions = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert conditions["Ready"] == "True", node["metadata"]["name"]
        assert not node["spec"].get("taints"), node["spec"]["taints"]
    events = sandbox.get("events", "-A")["items"]
    lifecycle = [e for e in events if e["reason"] in ("NodeNotReady", "TaintManagerEviction", "NodeNotSchedulable")]
    assert lifecycle == []


@dataclass
class Started:
    """A sandbox of the run, for the report at its end."""

    kind: SandboxKind
    start_seconds: float  # from its launch to its ready line
    waited_seconds: float  # how long the tests waited for it (less when launched ahead)
    tests: int = 0


@dataclass
class SandboxPool:
    root: Path
    starting: dict[SandboxKind, StartingSandbox] = field(default_factory=dict)
    running: dict[SandboxKind, RunningSandbox] = field(default_factory=dict)
    started: list[Started] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def prepare(self, kind: SandboxKind) -> None:
        """Launches the sandbox of `kind` unless it is running or starting; `get` waits for it."""
        if kind not in self.running and kind not in self.starting:
            self.starting[kind] = StartingSandbox(self.root / kind.name, kind)

    def get(self, kind: SandboxKind) -> RunningSandbox:
        if kind not in self.running:
            self.prepare(kind)
            asked = time.monotonic()
            sandbox = self.running[kind] = self.starting.pop(kind).wait()
            self.started.append(Started(kind, sandbox.start_seconds, time.monotonic() - asked))
        next(s for s in reversed(self.started) if s.kind == kind).tests += 1
        return self.running[kind]

    def stop(self, kind: SandboxKind) -> None:
        """Checks the sandbox of `kind` (see the module's documentation), then stops it."""
        sandbox = self.running.pop(kind, None)
        if sandbox is None:
            return
        try:
            assert_nodes_stayed_healthy(sandbox)
        except AssertionError as failed:
            self.problems.append(f"sandbox {kind.name}: its nodes did not stay healthy: {failed}")
        code = sandbox.stop()
        if code != 0:
            self.problems.append(f"sandbox {kind.name}: exited {code} when stopped (see {sandbox.log})")

    def stop_all(self) -> None:
        for kind in list(self.running):
            self.stop(kind)
        for starting in self.starting.values():  # prepared for tests that did not run (-x, Ctrl-C)
            starting.process.terminate()
            starting.process.wait(60)
        self.starting.clear()
