"""Helpers for the end-to-end tests of `kubectl virt-expose`: the plugin is run as users run it, through
kubectl's plugin discovery (PATH holds the venv's bin, where `kubectl-virt_expose` is installed), over
HTTPS against a sandbox with its real kubeconfig.

Every run passes `-v 6`, so each test also sees the API requests the plugin made (`Result.requests`,
as `VERB path?query`), taken out of `Result.stderr`; `verbose=False` runs without it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, VENV_BIN, RunningSandbox

SEED_NAMESPACE = "example-namespace"
REQUEST_LINE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) https?://[^/\s]+(\S*) (\d{3}) .* in \d+ milliseconds$")


@dataclass
class Result:
    """One run of the plugin: exit code, stdout, stderr without the request log, the requests."""

    code: int
    stdout: str
    stderr: str
    requests: list[str]

    def verbs(self) -> list[str]:
        """`GET virtualmachines`, `POST services`, `WATCH endpointslices`: the requests in short."""
        return [short_request(request) for request in self.requests]

    def __str__(self) -> str:  # shown by pytest when an assertion on a Result fails
        return f"exit {self.code}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}--- requests\n" + \
            "\n".join(self.requests)


def short_request(request: str) -> str:
    """`GET /apis/kubevirt.io/v1/namespaces/n/virtualmachines/x` -> `GET virtualmachines`; lists are
    `LIST`, watches `WATCH`, subresources by their name (`PUT restart`)."""
    verb, _, target = request.partition(" ")
    path, _, query = target.partition("?")
    parts = [part for part in path.split("/") if part]
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        rest = rest[2:]
    resource = rest[2] if len(rest) == 3 else rest[0]
    if verb == "GET":
        verb = "WATCH" if "watch=true" in query else "GET" if len(rest) >= 2 else "LIST"
    return f"{verb} {resource}"


def run_plugin(sandbox: RunningSandbox, *args: str, verbose: bool = True, env: dict[str, str] | None = None,
               timeout: float = 180) -> Result:
    """`kubectl virt-expose ARGS` with the sandbox's kubeconfig (KUBECONFIG), through plugin discovery."""
    environment = dict(env or sandbox.env)
    environment["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    command = [str(VENV_BIN / "kubectl"), "virt-expose", *args, *(["-v", "6"] if verbose else [])]
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout)
    requests, rest = [], []
    for line in done.stderr.splitlines(keepends=True):
        match = REQUEST_LINE.match(line.rstrip("\n"))
        if match:
            requests.append(f"{match.group(1)} {match.group(2)}")
        else:
            rest.append(line)
    return Result(done.returncode, done.stdout, "".join(rest), requests)


@pytest.fixture
def virt_expose(sandbox: RunningSandbox):  # type: ignore[no-untyped-def]
    """`virt_expose(*args)` runs the plugin against the default sandbox."""

    def run(*args: str, **kwargs: Any) -> Result:
        return run_plugin(sandbox, *args, **kwargs)

    return run


# -- objects -------------------------------------------------------------------------------------------

def seed_document(name: str) -> dict[str, Any]:
    """One object of the demo seed (tests/sandbox/seed-demo.yaml), without its namespace."""
    with open(REPO / "tests" / "sandbox" / "seed-demo.yaml") as stream:
        for document in yaml.safe_load_all(stream):
            if document and document["metadata"]["name"] == name:
                document["metadata"].pop("namespace", None)
                return document
    raise KeyError(name)


def vm_manifest(name: str, *, running: bool = True, template_labels: dict[str, str] | None = None,
                ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A small VM on the pod network (masquerade), optionally declaring `ports` on its interface."""
    interface: dict[str, Any] = {"name": "default", "masquerade": {}}
    if ports:
        interface["ports"] = ports
    template: dict[str, Any] = {
        "metadata": {"labels": dict(template_labels)} if template_labels else {},
        "spec": {"domain": {"devices": {"interfaces": [interface]},
                            "resources": {"requests": {"memory": "128Mi"}}},
                 "networks": [{"name": "default", "pod": {}}]},
    }
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name},
            "spec": {"runStrategy": "Always" if running else "Halted", "template": template}}


def create_vm(sandbox: RunningSandbox, namespace: str, manifest: dict[str, Any], *, wait: bool = True) -> None:
    sandbox.apply(manifest, namespace)
    if wait and manifest["spec"].get("runStrategy", "Halted") != "Halted" and manifest["spec"].get("running", True):
        wait_vm_ready(sandbox, namespace, manifest["metadata"]["name"])


def wait_vm_ready(sandbox: RunningSandbox, namespace: str, name: str) -> None:
    sandbox.kubectl("wait", f"vm/{name}", "--for=condition=Ready", "--timeout=90s", namespace=namespace)


def launcher_pod(sandbox: RunningSandbox, namespace: str, vm: str) -> dict[str, Any]:
    """The running launcher pod of the VM's current VMI."""
    uid = sandbox.get("vmi", vm, namespace=namespace)["metadata"]["uid"]
    pods = sandbox.get("pods", "-l", f"kubevirt.io/created-by={uid}", namespace=namespace)["items"]
    running = [p for p in pods if p["status"].get("phase") == "Running" and "deletionTimestamp" not in p["metadata"]]
    assert len(running) == 1, [p["metadata"]["name"] for p in pods]
    return running[0]


def as_if_before_kubevirt_1_7(sandbox: RunningSandbox, namespace: str, vm: str) -> dict[str, Any]:
    """Remove `vmi.kubevirt.io/id` from the VM's pod, as pods made before an upgrade to 1.7 lack it
    (kubevirt/kubevirt#17869); nothing puts it back on a running pod."""
    pod = launcher_pod(sandbox, namespace, vm)
    sandbox.kubectl("label", "pod", pod["metadata"]["name"], "vmi.kubevirt.io/id-", namespace=namespace)
    return launcher_pod(sandbox, namespace, vm)


def ready_endpoint_pods(sandbox: RunningSandbox, namespace: str, service: str) -> list[str]:
    slices = sandbox.get("endpointslices", "-l", f"kubernetes.io/service-name={service}", namespace=namespace)
    return sorted({e["targetRef"]["name"] for s in slices["items"] for e in s.get("endpoints") or []
                   if (e.get("conditions") or {}).get("ready", True)})


def template_labels(sandbox: RunningSandbox, namespace: str, vm: str) -> dict[str, str]:
    obj = sandbox.get("vm", vm, namespace=namespace)
    return (obj["spec"]["template"].get("metadata") or {}).get("labels") or {}


def service_or_none(sandbox: RunningSandbox, namespace: str, name: str) -> dict[str, Any] | None:
    found = sandbox.kubectl("get", "service", name, "-o", "json", "--ignore-not-found", namespace=namespace)
    return json.loads(found.stdout) if found.stdout.strip() else None


@contextmanager
def fresh_namespace(sandbox: RunningSandbox, prefix: str) -> Iterator[str]:
    """A new namespace in a sandbox other than the default one (the `namespace` fixture's)."""
    name = f"{prefix}-{secrets.token_hex(4)}"
    sandbox.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        sandbox.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def seed_namespace(sandbox: RunningSandbox) -> Iterator[str]:
    """The demo seed's example-namespace, put back as seeded afterwards (no label, no Service), since
    other suites check the seed as it was."""
    yield SEED_NAMESPACE
    sandbox.kubectl("delete", "service", "example-service", "--ignore-not-found", namespace=SEED_NAMESPACE)
    if "special" in template_labels(sandbox, SEED_NAMESPACE, "example-vm"):
        sandbox.kubectl("patch", "vm", "example-vm", "--type", "json", "-p",
                        '[{"op":"remove","path":"/spec/template/metadata/labels/special"}]', namespace=SEED_NAMESPACE)


@pytest.fixture
def kubeconfig(sandbox: RunningSandbox) -> Path:
    return sandbox.kubeconfig
