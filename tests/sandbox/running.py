"""A sandbox cluster started as a user starts one (`python -m tests.sandbox`), and what its users need of it:
kubectl with its kubeconfig, its audit log, stopping it. Shared by the test fixtures (tests/conftest.py),
`make demo` (tests/sandbox/demo.py) and `make bench` (tests/bench)."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from itertools import takewhile
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.dynamic import DynamicClient

from tests.sandbox import apiclient
from tests.sandbox.audit import AuditLog, Marker, RequestCounter
from tests.sandbox.kinds import READY_MARK, SandboxKind

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
START_TIMEOUT = 300.0  # the Go programs are built before (make test, make demo); this is start-up only
READY = "sandbox ready: "
TEST_MANAGER = "sandbox-tests"  # the field manager of what tests apply


# kubectl's names of the resources tests read -> (apiVersion, kind)
RESOURCES = {
    "configmap": ("v1", "ConfigMap"),
    "crd": ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    "endpointslices": ("discovery.k8s.io/v1", "EndpointSlice"),
    "events": ("v1", "Event"),
    "kubevirt": ("kubevirt.io/v1", "KubeVirt"),
    "mutatingwebhookconfigurations": ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
    "nodes": ("v1", "Node"),
    "pod": ("v1", "Pod"),
    "pods": ("v1", "Pod"),
    "route": ("route.openshift.io/v1", "Route"),
    "routes": ("route.openshift.io/v1", "Route"),
    "service": ("v1", "Service"),
    "services": ("v1", "Service"),
    "vm": ("kubevirt.io/v1", "VirtualMachine"),
    "vmi": ("kubevirt.io/v1", "VirtualMachineInstance"),
    "vmim": ("kubevirt.io/v1", "VirtualMachineInstanceMigration"),
}


def placed(obj: dict[str, Any], namespace: str | None) -> dict[str, Any]:
    """The object in `namespace` if it is of a namespaced kind that names no namespace of its own."""
    if namespace is None or obj["metadata"].get("namespace") or not apiclient.RESOURCES[obj["kind"]][1]:
        return obj
    return {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}


@dataclass
class RunningSandbox:
    """A `python -m tests.sandbox` process that said it is ready."""

    kind: SandboxKind
    kubeconfig: Path
    process: subprocess.Popen[str]
    log: Path
    audit_log: Path  # the API server's (see tests/sandbox/audit.py)
    start_seconds: float  # from its launch to its ready line

    @property
    def env(self) -> dict[str, str]:
        """This process's environment with KUBECONFIG set to the sandbox's, as a user's shell has it."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    @property
    def stack(self) -> str:
        return self.kind.stack

    @property
    def kubevirt_version(self) -> str | None:
        return self.kind.kubevirt

    @cached_property
    def api_client(self) -> client.ApiClient:
        """The official Python client as the sandbox's admin, for what tests read and wait for in code."""
        return config.new_client_from_config(str(self.kubeconfig))

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

    @cached_property
    def resources(self) -> DynamicClient:
        """The official client's dynamic client (discovery cached beside the sandbox's log)."""
        return DynamicClient(self.api_client, cache_file=str(self.log.parent / "discovery.json"))

    def get(self, resource: str, name: str | None = None, *, namespace: str | None = None,
            selector: str | None = None) -> dict[str, Any]:
        """`kubectl get RESOURCE [NAME] [-n NAMESPACE] [-l SELECTOR] -o json`, read through the official client
        (no namespace: every namespace); RESOURCE in kubectl's words (see RESOURCES)."""
        api_version, kind = RESOURCES[resource]
        found = self.resources.resources.get(api_version=api_version, kind=kind)
        return dict(found.get(name=name, namespace=namespace, label_selector=selector).to_dict())

    def create_namespace(self, prefix: str = "t") -> str:
        """A new namespace named PREFIX-RANDOM. Tests leave theirs to go with the sandbox: deleting a namespace
        costs the control plane ~0.3 CPU-s (the namespace controller sweeps every kind of resource), more than
        most tests do in it."""
        name = f"{prefix}-{secrets.token_hex(4)}"
        client.CoreV1Api(self.api_client).create_namespace({"metadata": {"name": name}}, _preload_content=False)
        return name

    def apply(self, manifest: dict[str, Any] | str, namespace: str | None = None) -> None:
        """`kubectl apply -f` of an object, a List or YAML text (into `namespace` where an object names none), as
        server-side applies through the official client (tests/sandbox/apiclient.py): no kubectl process per call
        (~0.1 CPU-s each)."""
        documents = list(yaml.safe_load_all(manifest)) if isinstance(manifest, str) else [manifest]
        items = [item for document in documents
                 for item in (document["items"] if document.get("kind") == "List" else [document])]
        apiclient.apply(self.api_client, [placed(item, namespace) for item in items], TEST_MANAGER)

    def request_counter(self) -> RequestCounter:
        """Counts the requests the API server serves from now on (see tests/sandbox/audit.py)."""
        return RequestCounter(AuditLog(self.audit_log), Marker.from_kubeconfig(self.kubeconfig))

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Signals the sandbox and returns its exit code (0 after SIGTERM: it stopped everything it started)."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout)


class StartingSandbox:
    """A sandbox process launched and not yet ready; `wait()` returns it running. Launching several before
    waiting on any starts them side by side. Once it is ready, its folder holds READY_MARK."""

    def __init__(self, directory: Path, kind: SandboxKind) -> None:
        self.kind, self.started, self.directory = kind, time.monotonic(), directory
        self.kubeconfig, self.log = directory / "kubeconfig", directory / "sandbox.log"
        directory.mkdir(parents=True, exist_ok=True)
        with open(self.log, "w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.sandbox", "--kubeconfig", str(self.kubeconfig), *kind.flags()],
                cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True)
        self.ready = threading.Event()
        self.ready_at = 0.0
        self.lines: list[str] = []
        threading.Thread(target=self._read_ready_line, daemon=True).start()

    def _read_ready_line(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if line.startswith(READY):
                (self.directory / READY_MARK).touch()
                break
        self.ready_at = time.monotonic()
        self.ready.set()  # also at the end of its output: it exited without being ready

    def failure(self) -> str:
        """What its log says about a failed start: its own lines (the reason first), then the log's end."""
        log = self.log.read_text()
        lines = log.splitlines()
        own = [line for line in lines if line.startswith("sandbox:")]
        failed = next((n for n, line in enumerate(lines) if line.startswith("sandbox: failed to start")), len(lines))
        detail = list(takewhile(lambda line: not line.startswith("--- "), lines[failed + 1:]))
        return "\n".join([f"exit code {self.process.poll()}", *own, *detail, "--- the log's end", log[-3000:]])

    def wait(self, timeout: float = START_TIMEOUT) -> RunningSandbox:
        remaining = timeout - (time.monotonic() - self.started)
        if not self.ready.wait(max(remaining, 0)) or not self.lines or not self.lines[-1].startswith(READY) \
                or self.process.poll() is not None:
            self.process.kill()
            raise RuntimeError(f"sandbox ({self.kind.name}) did not start:\n{self.failure()}")
        assert self.lines[-1].strip() == f"{READY}KUBECONFIG={self.kubeconfig}"
        audit = re.search(r"^sandbox: audit log (\S+)$", self.log.read_text(), re.MULTILINE)
        assert audit, f"the sandbox did not say where its audit log is:\n{self.failure()}"
        return RunningSandbox(self.kind, self.kubeconfig, self.process, self.log, Path(audit.group(1)),
                              self.ready_at - self.started)


def start_sandbox(directory: Path, kind: SandboxKind = SandboxKind()) -> RunningSandbox:
    """Starts a sandbox (its kubeconfig and log in `directory`) and waits for its ready line."""
    return StartingSandbox(directory, kind).wait()
