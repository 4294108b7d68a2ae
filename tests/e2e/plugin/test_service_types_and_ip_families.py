"""Service types and IP families: NodePort, LoadBalancer with a provider and without one, dual stack, IPv6."""

from __future__ import annotations

import pytest

from tests.e2e.workloads import create_vm, launcher_pod
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox


def test_node_port_says_how_to_reach_it_from_outside(sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("np"))
    pod = launcher_pod(sandbox, namespace, "np")
    result = virt_expose("vm", "np", "-n", namespace, "--port", "80", "--type", "NodePort")
    assert result.code == 0, result
    node_port = sandbox.get("service", "np", namespace=namespace)["spec"]["ports"][0]["nodePort"]
    assert (f"From outside the cluster: node port {node_port}/TCP of every node, "
            f"e.g. {pod['status']['hostIP']}:{node_port}") in result.stdout


def test_load_balancer_gets_its_address_from_the_provider(sandbox: RunningSandbox, namespace: str,
                                                          virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("lb"))
    result = virt_expose("vm", "lb", "-n", namespace, "--port", "80", "--type", "LoadBalancer")
    assert result.code == 0, result
    ingress = sandbox.get("service", "lb", namespace=namespace)["status"]["loadBalancer"]["ingress"][0]["ip"]
    assert f"Load balancer: {ingress}:80" in result.stdout
    assert result.verbs()[-3:] == ["WATCH endpointslices", "WATCH services", "LIST nodes"]
    assert any("fieldSelector=metadata.name%3Dlb" in r for r in result.requests)


@pytest.mark.sandbox(load_balancer=False)
def test_load_balancer_without_a_provider_stays_pending_and_says_why(sandbox: RunningSandbox, namespace: str,
                                                                     virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("lb"))
    result = virt_expose("vm", "lb", "-n", namespace, "--port", "80", "--type", "LoadBalancer", "--timeout", "3s")
    assert result.code == 3, result
    assert "service/lb verified: 1 ready endpoint" in result.stdout
    assert "Load balancer: address pending" in result.stdout
    assert result.stderr.startswith("error: service/lb: no load-balancer address yet")
    assert "MetalLB" in result.stderr


@pytest.mark.sandbox(stack="dual")
@pytest.mark.parametrize("families", [["IPv4", "IPv6"], ["IPv6", "IPv4"]])
def test_dual_stack_service_gets_ready_endpoints_in_both_families(sandbox: RunningSandbox, namespace: str,
                                                                  virt_expose, families: list[str]) -> None:
    create_vm(sandbox, namespace, vm_manifest("both"))
    pod = launcher_pod(sandbox, namespace, "both")
    result = virt_expose("vm", "both", "-n", namespace, "--port", "80", "--ip-families", ",".join(families))
    assert result.code == 0, result
    service = sandbox.get("service", "both", namespace=namespace)
    assert service["spec"]["ipFamilyPolicy"] == "PreferDualStack"
    assert service["spec"]["ipFamilies"] == families
    assert len(service["spec"]["clusterIPs"]) == 2
    verified = next(line for line in result.stdout.splitlines() if "verified" in line)
    shown = [f"[{e['ip']}]:80" if ":" in e["ip"] else f"{e['ip']}:80" for e in pod["status"]["podIPs"]]
    shown.sort(key=lambda endpoint: families.index("IPv6" if endpoint.startswith("[") else "IPv4"))
    assert verified.endswith(f"1 ready endpoint {shown[0]}, {shown[1]}")  # in the Service's family order


@pytest.mark.sandbox(stack="ipv6")
def test_single_stack_ipv6_sandbox(sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("six"))
    result = virt_expose("vm", "six", "-n", namespace, "--port", "80")
    assert result.code == 0, result
    assert ":" in sandbox.get("service", "six", namespace=namespace)["spec"]["clusterIP"]
    assert "verified: 1 ready endpoint [" in result.stdout
