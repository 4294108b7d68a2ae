"""Fixtures shared by the suites: one sandbox cluster per configuration (IP stack, KubeVirt version, load
balancer) per session, a fresh namespace per test, and the requests a sandbox's API server served."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.sandbox.audit import AuditLog, Marker, RequestCounter

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
START_TIMEOUT = 300.0  # the Go programs are built before pytest starts (make test); this is start-up only


@dataclass
class RunningSandbox:
    """A `python -m tests.sandbox` process, as a user would run it, and what tests need of it."""

    stack: str
    kubeconfig: Path
    process: subprocess.Popen[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    kubevirt_version: str = "1.7"
    audit_log: Path | None = None  # the API server's (see tests/sandbox/audit.py)

    def kubectl(self, *args: str, namespace: str | None = None, check: bool = True,
                input: str | None = None, context: str | None = None) -> subprocess.CompletedProcess[str]:
        """kubectl with the sandbox's kubeconfig, as its admin or as the user of `context` (see
        tests/sandbox/users.py: restricted, cert-user, exec-user, anonymous, bad-token)."""
        command = [str(VENV_BIN / "kubectl"), "--kubeconfig", str(self.kubeconfig)]
        if context:
            command += ["--context", context]
        if namespace:
            command += ["-n", namespace]
        result = subprocess.run([*command, *args], capture_output=True, text=True, input=input, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def get(self, *args: str, namespace: str | None = None) -> dict:
        return json.loads(self.kubectl("get", *args, "-o", "json", namespace=namespace).stdout)

    def apply(self, manifest: dict | str, namespace: str | None = None) -> None:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        self.kubectl("apply", "-f", "-", namespace=namespace, input=text)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout)


def start_sandbox(directory: Path, stack: str = "ipv4", seed: str = "empty", *extra: str) -> RunningSandbox:
    """Starts a sandbox and waits for its ready line (the interface `make sandbox` and the demo use)."""
    kubeconfig = directory / "kubeconfig"
    log = directory / "sandbox.log"
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.sandbox", "--kubeconfig", str(kubeconfig), "--stack", stack, "--seed", seed,
             *extra],
            cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True)
    ready = threading.Event()
    lines: list[str] = []

    def read_ready_line() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("sandbox ready: "):
                break
        ready.set()  # also at the end of its output: it exited without being ready

    threading.Thread(target=read_ready_line, daemon=True).start()
    if not ready.wait(START_TIMEOUT) or not lines or not lines[-1].startswith("sandbox ready: ") \
            or process.poll() is not None:
        process.kill()
        raise RuntimeError(f"sandbox ({stack}) did not start:\n{log.read_text()[-4000:]}")
    assert lines[-1].strip() == f"sandbox ready: KUBECONFIG={kubeconfig}"
    version = extra[extra.index("--kubevirt-version") + 1] if "--kubevirt-version" in extra else "1.7"
    audit = re.search(r"^sandbox: audit log (\S+)$", log.read_text(), re.MULTILINE)
    return RunningSandbox(stack, kubeconfig, process, log, env={**os.environ, "KUBECONFIG": str(kubeconfig)},
                          kubevirt_version=version, audit_log=Path(audit.group(1)) if audit else None)


class SandboxPool:
    """One sandbox per configuration (stack, KubeVirt version, load balancer), seeded with the demo
    objects, started on first use, stopped at the end of the session.

    At most MAX_RUNNING run at once: starting another stops the one used least recently (never the default
    one), which keeps the suite within 2 cores, a few GB and the kernel's 128 inotify instances per user
    (each sandbox holds ~17). A configuration asked for again is started again."""

    MAX_RUNNING = 3
    DEFAULT = ("ipv4", "1.7", True)

    def __init__(self, root: Path) -> None:
        self.root = root
        self.running: dict[tuple[str, str, bool], RunningSandbox] = {}  # least recently used first

    def get(self, stack: str = "ipv4", kubevirt_version: str = "1.7", load_balancer: bool = True) -> RunningSandbox:
        key = (stack, kubevirt_version, load_balancer)
        if key in self.running:
            self.running[key] = self.running.pop(key)
            return self.running[key]
        while len(self.running) >= self.MAX_RUNNING:
            self._stop_least_recently_used()
        name = stack + ("" if kubevirt_version == "1.7" else f"-kubevirt-{kubevirt_version}") + \
            ("" if load_balancer else "-no-load-balancer")
        directory = self.root / name
        directory.mkdir(parents=True, exist_ok=True)
        self.running[key] = start_sandbox(
            directory, stack, "demo", "--kubevirt-version", kubevirt_version,
            "--load-balancer" if load_balancer else "--no-load-balancer")
        return self.running[key]

    def _stop_least_recently_used(self) -> None:
        key = next(key for key in self.running if key != self.DEFAULT)
        self.running.pop(key).stop()

    def stop_all(self) -> None:
        for sandbox in self.running.values():
            sandbox.stop()


@pytest.fixture(scope="session")
def sandboxes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxPool]:
    pool = SandboxPool(tmp_path_factory.mktemp("sandboxes"))
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session")
def sandbox(sandboxes: SandboxPool) -> RunningSandbox:
    """The default sandbox: single-stack IPv4, KubeVirt 1.7, seeded with the demo objects."""
    return sandboxes.get("ipv4")


@pytest.fixture
def namespace(sandbox: RunningSandbox) -> Iterator[str]:
    """A fresh namespace for one test, deleted (without waiting) afterwards."""
    name = f"t-{secrets.token_hex(4)}"
    sandbox.kubectl("create", "namespace", name)
    yield name
    sandbox.kubectl("delete", "namespace", name, "--wait=false", check=False)


def request_counter(sandbox: RunningSandbox) -> RequestCounter:
    """Counts the requests `sandbox`'s API server serves from now on (see tests/sandbox/audit.py)."""
    assert sandbox.audit_log is not None, "the sandbox did not say where its audit log is"
    return RequestCounter(AuditLog(sandbox.audit_log), Marker.from_kubeconfig(sandbox.kubeconfig))


@pytest.fixture
def requests_made(sandbox: RunningSandbox) -> RequestCounter:
    """The requests the default sandbox serves from the start of the test (or the last `start()`):
    `requests_made.requests(user_agent="kubectl/")` -> [Request(verb, path, query, user, user_agent, code)]."""
    return request_counter(sandbox)
