"""Service types and IP families: NodePort, LoadBalancer (no provider in the sandbox), dual stack."""

from __future__ import annotations

import pytest

from tests.conftest import RunningSandbox, SandboxPool
from tests.e2e.conftest import create_vm, launcher_pod, run_plugin, vm_manifest

pytestmark = pytest.mark.sandbox


def test_node_port_says_how_to_reach_it_from_outside(sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("np"))
    pod = launcher_pod(sandbox, namespace, "np")
    result = virt_expose("vm", "np", "-n", namespace, "--port", "80", "--type", "NodePort")
    assert result.code == 0, result
    node_port = sandbox.get("service", "np", namespace=namespace)["spec"]["ports"][0]["nodePort"]
    assert (f"From outside the cluster: node port {node_port}/TCP of every node, "
            f"e.g. {pod['status']['hostIP']}:{node_port}") in result.stdout


def test_load_balancer_without_a_provider_stays_pending_and_says_why(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("lb"))
    result = virt_expose("vm", "lb", "-n", namespace, "--port", "80", "--type", "LoadBalancer", "--timeout", "3s")
    assert result.code == 3, result
    assert "service/lb verified: 1 ready endpoint" in result.stdout
    assert "MetalLB" in result.stderr and result.stderr.startswith("error: ")
    assert result.verbs()[-2:] == ["WATCH endpointslices", "WATCH services"]
    assert any("fieldSelector=metadata.name%3Dlb" in r for r in result.requests)


@pytest.mark.parametrize("families", [["IPv4", "IPv6"], ["IPv6", "IPv4"]])
def test_dual_stack_service_gets_ready_endpoints_in_both_families(sandboxes: SandboxPool,
                                                                  families: list[str]) -> None:
    sandbox = sandboxes.get("dual")
    namespace = f"dual-{families[0].lower()}"
    sandbox.kubectl("create", "namespace", namespace)
    try:
        create_vm(sandbox, namespace, vm_manifest("both"))
        pod = launcher_pod(sandbox, namespace, "both")
        result = run_plugin(sandbox, "vm", "both", "-n", namespace, "--port", "80", "--ip-families",
                            ",".join(families))
        assert result.code == 0, result
        service = sandbox.get("service", "both", namespace=namespace)
        assert service["spec"]["ipFamilyPolicy"] == "PreferDualStack"
        assert service["spec"]["ipFamilies"] == families
        assert len(service["spec"]["clusterIPs"]) == 2
        verified = next(line for line in result.stdout.splitlines() if "verified" in line)
        for entry in pod["status"]["podIPs"]:
            address = entry["ip"]
            assert (f"[{address}]:80" if ":" in address else f"{address}:80") in verified
    finally:
        sandbox.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_single_stack_ipv6_sandbox(sandboxes: SandboxPool) -> None:
    sandbox = sandboxes.get("ipv6")
    namespace = "single-v6"
    sandbox.kubectl("create", "namespace", namespace)
    try:
        create_vm(sandbox, namespace, vm_manifest("six"))
        result = run_plugin(sandbox, "vm", "six", "-n", namespace, "--port", "80")
        assert result.code == 0, result
        assert ":" in sandbox.get("service", "six", namespace=namespace)["spec"]["clusterIP"]
        assert "verified: 1 ready endpoint [" in result.stdout
    finally:
        sandbox.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
