"""Fixtures of the end-to-end tests, on the test's sandbox (tests/conftest.py): the plugin, the seed's
namespace, a second namespace, the simulated infrastructure (tests/e2e/sandbox_infrastructure.py), and a node
label that gated VMs wait for (tests/e2e/held_runs.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.held_runs import NodeGate
from tests.e2e.plugin_runs import Result, run_plugin
from tests.e2e.sandbox_infrastructure import FaultProxy, LoadBalancerSwitch
from tests.e2e.workloads import template_labels
from tests.sandbox.manifests import SEED_NAMESPACE
from tests.sandbox.running import RunningSandbox


@pytest.fixture
def virt_expose(sandbox: RunningSandbox) -> Callable[..., Result]:
    """`virt_expose(*args)` runs the plugin against the test's sandbox (see tests/e2e/plugin_runs.py)."""

    def run(*args: str, **kwargs: Any) -> Result:
        return run_plugin(sandbox, *args, **kwargs)

    return run


@pytest.fixture
def seed_namespace(sandbox: RunningSandbox) -> Iterator[str]:
    """The demo seed's example-namespace, put back as seeded afterwards (no label, no Service), since
    other tests check the seed as it was."""
    yield SEED_NAMESPACE
    sandbox.kubectl("delete", "service", "example-service", "--ignore-not-found", namespace=SEED_NAMESPACE)
    if "special" in template_labels(sandbox, SEED_NAMESPACE, "example-vm"):
        sandbox.kubectl("patch", "vm", "example-vm", "--type", "json", "-p",
                        '[{"op":"remove","path":"/spec/template/metadata/labels/special"}]', namespace=SEED_NAMESPACE)


@pytest.fixture
def other_namespace(sandbox: RunningSandbox) -> str:
    """A second fresh namespace, beside `namespace`."""
    return sandbox.create_namespace()


@pytest.fixture
def fault_proxy(sandbox: RunningSandbox) -> Iterator[FaultProxy]:
    """The proxy in front of the sandbox's API server, its rules cleared before and after the test."""
    proxy = FaultProxy(sandbox)
    proxy.clear()
    yield proxy
    proxy.clear()


@pytest.fixture
def load_balancer(sandbox: RunningSandbox) -> Iterator[LoadBalancerSwitch]:
    """The sandbox's load-balancer provider, switched on again after the test."""
    switch = LoadBalancerSwitch(sandbox)
    yield switch
    switch.on()


@pytest.fixture
def no_load_balancer(load_balancer: LoadBalancerSwitch) -> LoadBalancerSwitch:
    """The same, switched off for the test: LoadBalancer Services stay pending."""
    load_balancer.off()
    return load_balancer


@pytest.fixture
def node_gate(sandbox: RunningSandbox) -> Iterator[NodeGate]:
    """The pods of VMs made with `node_gate.gated(manifest)` stay Pending until `node_gate.open()`."""
    gate = NodeGate(sandbox)
    yield gate
    gate.remove()
