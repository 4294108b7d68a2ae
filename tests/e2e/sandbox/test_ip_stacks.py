"""`--stack`: a sandbox allocates cluster IPs and pod IPs of its IP families, in their order (dual: IPv4
first), and KubeVirt reports the pod's addresses on the VMI."""

from __future__ import annotations

import pytest

from tests.e2e.workloads import create_vm, launcher_pod
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox


@pytest.mark.parametrize("families", [
    pytest.param(["IPv4"], marks=pytest.mark.sandbox(stack="ipv4"), id="ipv4"),
    pytest.param(["IPv6"], marks=pytest.mark.sandbox(stack="ipv6"), id="ipv6"),
    pytest.param(["IPv4", "IPv6"], marks=pytest.mark.sandbox(stack="dual"), id="dual")])
def test_stack_allocates_cluster_ips_and_pod_ips(sandbox: RunningSandbox, namespace: str,
                                                 families: list[str]) -> None:
    sandbox.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
                   "spec": {"ipFamilyPolicy": "PreferDualStack", "ports": [{"port": 80}], "selector": {"a": "b"}}},
                  namespace)
    service = sandbox.get("service", "svc", namespace=namespace)
    assert service["spec"]["ipFamilies"] == families
    assert [family_of(ip) for ip in service["spec"]["clusterIPs"]] == families
    create_vm(sandbox, namespace, vm_manifest("vm"))
    pod = launcher_pod(sandbox, namespace, "vm")
    assert [family_of(entry["ip"]) for entry in pod["status"]["podIPs"]] == families
    vmi = sandbox.get("vmi", "vm", namespace=namespace)
    assert vmi["status"]["interfaces"][0]["ipAddresses"] == [entry["ip"] for entry in pod["status"]["podIPs"]]


def family_of(ip: str) -> str:
    return "IPv6" if ":" in ip else "IPv4"
