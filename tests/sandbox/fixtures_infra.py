"""Fixtures and helpers for tests that use the sandbox's simulated infrastructure (tests/sandbox/
infrastructure.py): the fault proxy, the load balancer's switch, the pod start delay, Routes.

Use them from a test module with `pytest_plugins = ["tests.sandbox.fixtures_infra"]`:
- `fault_proxy` (FaultProxy): the proxy in front of the default sandbox's API server, its rules cleared
  before and after the test; `fault_proxy.kubectl(...)` goes through it (context `faults`).
- `load_balancer` (LoadBalancerSwitch): the default sandbox's provider, switched on again after the test;
  `no_load_balancer`: the same, switched off for the test (LoadBalancer Services stay pending).
- `with_start_delay(vm, seconds)`: a VM manifest whose launcher pods start (get their IPs, run, turn
  Ready) only `seconds` after they are created.
- `wait_for_event(sandbox, namespace, name, reason)`: the message of the first such Event, by watching.

PYTEST_DONT_REWRITE: test modules import helpers from here before pytest would load it as a plugin.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import VENV_BIN, RunningSandbox
from tests.sandbox.fault_control import FaultProxyClient
from tests.sandbox.infrastructure import INFO, NAMESPACE, START_DELAY_ANNOTATION
from tests.sandbox.loadbalancer import SWITCH

FAULTS_CONTEXT = "faults"  # the kubeconfig context through the fault proxy (the admin's token)


@dataclass(frozen=True)
class InfrastructureInfo:
    """What the sandbox publishes about its infrastructure (ConfigMap sandbox-infra/infrastructure)."""

    fault_proxy_url: str
    load_balancer: bool  # whether the provider runs at all (--load-balancer)
    load_balancer_pools: dict[str, str]
    router_domain: str


def infrastructure_info(sandbox: RunningSandbox) -> InfrastructureInfo:
    data = sandbox.get("configmap", INFO, namespace=NAMESPACE)["data"]
    return InfrastructureInfo(data["faultProxyURL"], data["loadBalancer"] == "on",
                              json.loads(data["loadBalancerPools"]), data["routerDomain"])


def cluster_ca(sandbox: RunningSandbox) -> Path:
    config = json.loads(sandbox.kubeconfig.read_text())
    return Path(config["clusters"][0]["cluster"]["certificate-authority"])


class FaultProxy(FaultProxyClient):
    def __init__(self, sandbox: RunningSandbox) -> None:
        super().__init__(infrastructure_info(sandbox).fault_proxy_url, cluster_ca(sandbox))
        self.sandbox = sandbox
        self.ca_file = cluster_ca(sandbox)

    def kubectl(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """kubectl through the proxy, as the admin; `check=False` to see a failure."""
        return self.sandbox.kubectl(*args, context=FAULTS_CONTEXT, **kwargs)


@pytest.fixture
def fault_proxy(sandbox: RunningSandbox) -> Iterator[FaultProxy]:
    proxy = FaultProxy(sandbox)
    proxy.clear()
    yield proxy
    proxy.clear()


class LoadBalancerSwitch:
    """The run-time switch of a sandbox's load-balancer provider (read by it at each decision)."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        info = infrastructure_info(sandbox)
        if not info.load_balancer:
            raise RuntimeError("this sandbox runs no load balancer (--no-load-balancer): nothing to switch")
        self.pools = info.load_balancer_pools

    def set(self, enabled: bool) -> None:
        patch = json.dumps({"data": {"enabled": "true" if enabled else "false"}})
        self.sandbox.kubectl("patch", "configmap", SWITCH, "--type", "merge", "-p", patch, namespace=NAMESPACE)

    def on(self) -> None:
        self.set(True)

    def off(self) -> None:
        self.set(False)


@pytest.fixture
def load_balancer(sandbox: RunningSandbox) -> Iterator[LoadBalancerSwitch]:
    switch = LoadBalancerSwitch(sandbox)
    yield switch
    switch.on()


@pytest.fixture
def no_load_balancer(load_balancer: LoadBalancerSwitch) -> LoadBalancerSwitch:
    load_balancer.off()
    return load_balancer


def with_start_delay(vm: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The VM manifest with its template annotated so that its launcher pods start `seconds` late (kwok's
    pod-start Stage reads the pod's annotation as a Go duration; KubeVirt copies VMI annotations to the pod)."""
    template = vm["spec"]["template"]
    metadata = template.setdefault("metadata", {})
    metadata.setdefault("annotations", {})[START_DELAY_ANNOTATION] = f"{round(seconds * 1000)}ms"
    return vm


def wait_for_event(sandbox: RunningSandbox, namespace: str, name: str, reason: str, timeout: float = 30) -> str:
    """Watches the namespace's Events until one of `reason` about the object `name` exists; its message."""
    selector = f"involvedObject.name={name},reason={reason}"
    command = [str(VENV_BIN / "kubectl"), "--kubeconfig", str(sandbox.kubeconfig), "-n", namespace, "get", "events",
               "--field-selector", selector, "--watch", "-o", 'jsonpath={.message}{"\\n"}']
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_forward_lines, args=(process, lines), daemon=True).start()
    try:
        return lines.get(timeout=timeout).strip()
    except queue.Empty:
        raise AssertionError(f"no {reason} event about {namespace}/{name} within {timeout}s") from None
    finally:
        process.kill()
        process.wait()


def _forward_lines(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)
