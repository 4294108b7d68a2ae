"""The sandboxes of one test run: one per kind, each started once (`prepare` launches one ahead of the tests
that need it, `get` waits for it) and stopped as soon as no test is left for it; tests/conftest.py orders
the tests by kind and drives it.

Before it stops a sandbox the pool checks what must have held for the whole time it ran (its nodes stayed
Ready and untainted under the real node lifecycle controller, nothing was evicted), and after, that it
stopped cleanly (exit code 0) and left nothing behind (tests/sandbox/footprint.py); what did not hold is in
`problems`, and the run fails on it."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.sandbox.footprint import Footprint
from tests.sandbox.kinds import DUMP_STACKS, SandboxKind
from tests.sandbox.manifests import SEED_NAMESPACE
from tests.sandbox.running import RunningSandbox, StartingSandbox

MAX_ALIVE = 3  # sandboxes running or starting at once: ~4 GB


def wait_for_the_seed(sandbox: RunningSandbox) -> None:
    """The demo seed's running VMs are Ready (its other objects KubeVirt updates no more): tests compare them
    before and after a command, so they must not be changing on their own."""
    if sandbox.kind.seed == "demo":
        sandbox.kubectl("wait", "vm/web-vm", "--for=condition=Ready", "--timeout=120s", namespace=SEED_NAMESPACE)
        sandbox.kubectl("wait", "vmirs/web-replicas", "--for=jsonpath={.status.readyReplicas}=2", "--timeout=120s",
                        namespace=SEED_NAMESPACE)


def assert_nodes_stayed_healthy(sandbox: RunningSandbox) -> None:
    nodes = sandbox.get("nodes")["items"]
    assert len(nodes) >= 2
    for node in nodes:
        conditions = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert conditions["Ready"] == "True", node["metadata"]["name"]
        assert not node["spec"].get("taints"), node["spec"]["taints"]
    events = sandbox.get("events")["items"]
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
    plan: list[SandboxKind]  # the kinds the run's tests need, in the order their tests run
    max_alive: int = MAX_ALIVE
    launched: set[SandboxKind] = field(default_factory=set)
    starting: dict[SandboxKind, StartingSandbox] = field(default_factory=dict)
    running: dict[SandboxKind, RunningSandbox] = field(default_factory=dict)
    stopping: list[threading.Thread] = field(default_factory=list)  # each waits for a sandbox to end
    started: list[Started] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def prepare(self, kind: SandboxKind) -> None:
        """Launches the sandbox of `kind` unless it is running or starting; `get` waits for it."""
        if kind not in self.running and kind not in self.starting:
            self.starting[kind] = StartingSandbox(self.root / kind.name, kind)
            self.launched.add(kind)

    def prepare_next(self) -> None:
        """Launches the next kind of the plan ahead of its tests, one start at a time (two at once take
        nearly twice as long on 2 cores) and at most `max_alive` sandboxes in all (each holds ~1.3 GB)."""
        if any(not starting.ready.is_set() for starting in self.starting.values()):
            return
        upcoming = [kind for kind in self.plan if kind not in self.launched]
        if upcoming and len(self.running) + len(self.starting) < self.max_alive:
            self.prepare(upcoming[0])

    def get(self, kind: SandboxKind) -> RunningSandbox:
        if kind not in self.running:
            self.prepare(kind)
            asked = time.monotonic()
            sandbox = self.running[kind] = self.starting.pop(kind).wait()
            wait_for_the_seed(sandbox)
            self.started.append(Started(kind, sandbox.start_seconds, time.monotonic() - asked))
            self.prepare_next()
        next(s for s in reversed(self.started) if s.kind == kind).tests += 1
        return self.running[kind]

    def stop(self, kind: SandboxKind) -> None:
        """Checks the sandbox of `kind` (see the module's documentation); then a thread tells it to stop (one
        SIGTERM), waits for it to end and checks, at once (its ports may be taken again later), that it left
        nothing behind, while the tests go on."""
        sandbox = self.running.pop(kind, None)
        if sandbox is None:
            return
        footprint = Footprint.of(sandbox)
        self.check(sandbox, "its nodes did not stay healthy", assert_nodes_stayed_healthy, sandbox)
        self.check(sandbox, "it did not hold what a sandbox holds", footprint.assert_held)
        stopping = threading.Thread(target=self.check_stopped, args=(sandbox, footprint), daemon=True)
        stopping.start()
        self.stopping.append(stopping)
        self.prepare_next()

    def report(self) -> list[str]:
        """A line per sandbox started: its kind, how long it took to be ready, how long tests waited for it."""
        return [f"{started.kind.name}: ready in {started.start_seconds:.1f}s, waited for {started.waited_seconds:.1f}s,"
                f" {started.tests} tests" for started in self.started]

    def check_stopped(self, sandbox: RunningSandbox, footprint: Footprint) -> None:
        try:
            code = sandbox.stop()
        except subprocess.TimeoutExpired:
            sandbox.process.send_signal(DUMP_STACKS)  # says in its log where it is stuck
            time.sleep(1)  # a failure's diagnosis: the process gives no sign that it has written them
            sandbox.process.kill()
            self.problems.append(f"sandbox {sandbox.kind.name}: did not stop within a minute (see {sandbox.log})")
            return
        if code != 0:
            self.problems.append(f"sandbox {sandbox.kind.name}: exited {code} when stopped (see {sandbox.log})")
        self.check(sandbox, "it left something behind", footprint.assert_released)

    def check(self, sandbox: RunningSandbox, what: str, assertion: Callable[..., None], *args: Any) -> None:
        try:
            assertion(*args)
        except AssertionError as failed:
            self.problems.append(f"sandbox {sandbox.kind.name}: {what}: {failed} (see {sandbox.log})")

    def stop_all(self) -> None:
        for kind in list(self.running):
            self.stop(kind)
        for starting in self.starting.values():  # prepared for tests that did not run (-x, Ctrl-C)
            starting.process.terminate()
        for stopping in self.stopping:
            stopping.join()
        for starting in self.starting.values():
            starting.process.wait(60)
        self.starting.clear()
