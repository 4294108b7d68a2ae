"""build_service from a table of expected objects, in the style of kubectl's TestGenerateService."""

from __future__ import annotations

from typing import Any

import pytest

from oc_virt_expose.commands.expose.options import ExposeRequest
from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.kinds import VM, VMI
from oc_virt_expose.model.ports import ServicePort, service_ports
from oc_virt_expose.model.service import (
    build_service,
    default_service_name,
    overwritten_service,
    service_differences,
    validate_service_name,
)
from tests.unit.builders import request_for, valid_request, vm, vmi

UID = "11111111-2222-3333-4444-555555555555"
OWNER = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": "example-vm", "uid": UID}
VM_LABELS = {"app": "shop"}


def metadata(name: str = "example-vm", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": "example-namespace",
        "labels": {**(VM_LABELS if labels is None else labels), "virt-expose.kubevirt.io/vm": "example-vm"},
        "annotations": {"virt-expose.kubevirt.io/exposes": "virtualmachine.kubevirt.io/example-vm"},
        "ownerReferences": [OWNER],
    }


SEED_SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": metadata("example-service", {}),
    "spec": {
        "type": "NodePort",
        "selector": {"special": "key"},
        "ports": [{"protocol": "TCP", "port": 80, "targetPort": 9376, "nodePort": 30000}],
    },
}

CASES: list[tuple[str, list[str], dict[str, str], dict[str, Any]]] = [
    (
        "the seed's Service, -l replacing the VM's labels",
        ["--name", "example-service", "--selector", "special=key", "--type", "NodePort", "--port", "80",
         "--target-port", "9376", "--node-port", "30000", "-l", "virt-expose-test=x"],
        {"special": "key"},
        {**SEED_SERVICE, "metadata": metadata("example-service", {"virt-expose-test": "x"})},
    ),
    (
        "defaults: ClusterIP, the VM's name and labels, one unnamed port",
        ["--port", "80"],
        {"kubevirt.io/domain": "example-vm"},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(),
            "spec": {
                "type": "ClusterIP",
                "selector": {"kubevirt.io/domain": "example-vm"},
                "ports": [{"protocol": "TCP", "port": 80, "targetPort": 80}],
            },
        },
    ),
    (
        "every Service field",
        ["--port", "80,53/UDP", "--type", "LoadBalancer", "--load-balancer-ip", "192.0.2.10",
         "--external-ip", "198.51.100.1", "--external-ip", "198.51.100.2", "--session-affinity", "clientip",
         "--ip-families", "ipv6,IPv4", "--cluster-ip", "fd00::10", "-l", "a=b"],
        {"a": "b"},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(labels={"a": "b"}),
            "spec": {
                "type": "LoadBalancer",
                "selector": {"a": "b"},
                "ports": [
                    {"name": "port-1", "protocol": "TCP", "port": 80, "targetPort": 80},
                    {"name": "port-2", "protocol": "UDP", "port": 53, "targetPort": 53},
                ],
                "clusterIP": "fd00::10",
                "externalIPs": ["198.51.100.1", "198.51.100.2"],
                "loadBalancerIP": "192.0.2.10",
                "sessionAffinity": "ClientIP",
                "ipFamilyPolicy": "PreferDualStack",
                "ipFamilies": ["IPv6", "IPv4"],
            },
        },
    ),
    (
        "headless without ports",
        ["--cluster-ip", "None", "--ip-family-policy", "SingleStack", "--ip-family", "IPv4"],
        {"kubevirt.io/domain": "example-vm"},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(),
            "spec": {
                "type": "ClusterIP",
                "selector": {"kubevirt.io/domain": "example-vm"},
                "clusterIP": "None",
                "ipFamilyPolicy": "SingleStack",
                "ipFamilies": ["IPv4"],
            },
        },
    ),
]


def ports_of(request: ExposeRequest) -> list[ServicePort]:
    """The Service ports of the request (as the plan completes them when `--port` is given)."""
    ports = request.ports
    return service_ports(ports.specs, target_port=ports.target_port, protocol=ports.protocol,
                         node_port=ports.node_port, port_name=ports.port_name, headless=request.service.headless)


@pytest.mark.parametrize(("case", "flags", "selector", "expected"), CASES, ids=[c[0] for c in CASES])
def test_build_service(case: str, flags: list[str], selector: dict[str, str], expected: dict[str, Any]) -> None:
    request = valid_request("vm", "example-vm", *flags)
    assert build_service(request.service, VM, vm(labels=VM_LABELS), selector, ports_of(request)) == expected


def test_seed_service_exactly() -> None:
    request = valid_request(
        "vm", "example-vm", "-n", "example-namespace", "--name", "example-service", "--selector", "special=key",
        "--type", "NodePort", "--port", "80", "--target-port", "9376", "--node-port", "30000")
    ports = service_ports(request.ports.specs, target_port=request.ports.target_port,
                          node_port=request.ports.node_port)
    assert build_service(request.service, VM, vm(), {"special": "key"}, ports) == SEED_SERVICE


def test_owner_and_record_follow_the_exposed_kind() -> None:
    request = request_for("vmi", "example-vm", "--port", "22")
    service = build_service(request.service, VMI, vmi(uid="vmi-uid"), {"x": "y"}, ports_of(request))
    assert service["metadata"]["ownerReferences"] == [
        {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "name": "example-vm", "uid": "vmi-uid"}]
    assert service["metadata"]["labels"]["virt-expose.kubevirt.io/vmi"] == "example-vm"
    assert service["metadata"]["annotations"] == {
        "virt-expose.kubevirt.io/exposes": "virtualmachineinstance.kubevirt.io/example-vm"}


def test_build_service_does_not_change_its_inputs() -> None:
    target = vm(labels={"app": "shop"})
    request = request_for("vm", "example-vm", "--port", "80")
    build_service(request.service, VM, target, {"a": "b"}, ports_of(request))
    assert target["metadata"]["labels"] == {"app": "shop"}


def test_service_names() -> None:
    assert default_service_name("a" * 70) == "a" * 63
    validate_service_name("example-service", given=True)
    with pytest.raises(UsageError, match='invalid --name "Example"'):
        validate_service_name("Example", given=True)
    with pytest.raises(UsageError, match=r"from the object's name.*give --name"):
        validate_service_name("vm.with.dots", given=False)


def test_service_differences_ignore_server_defaults_and_allocated_node_ports() -> None:
    want = {"spec": {"type": "NodePort", "selector": {"a": "b"},
                     "ports": [{"protocol": "TCP", "port": 80, "targetPort": 80}]}}
    have = {"spec": {"type": "NodePort", "selector": {"a": "b"}, "clusterIPs": ["10.0.0.1"],
                     "ports": [{"protocol": "TCP", "port": 80, "targetPort": 80, "nodePort": 31111}]}}
    assert service_differences(have, want) == []
    want["spec"]["ports"][0]["targetPort"] = 81
    assert service_differences(have, want) == [
        "spec.ports are 80/TCP->80 (node port 31111), not 80/TCP->81"]


def test_overwrite_keeps_allocated_node_ports_and_adds_the_owner() -> None:
    existing = {"metadata": {"name": "s", "resourceVersion": "7", "ownerReferences": [{"uid": "a"}]},
                "spec": {"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP", "nodePort": 31000}]}}
    desired = {"metadata": {"name": "s", "labels": {"l": "v"}, "ownerReferences": [{"uid": "b"}]},
               "spec": {"type": "NodePort", "selector": {"x": "y"}, "ports": [{"port": 80, "protocol": "TCP"}]}}
    updated = overwritten_service(existing, desired)
    assert updated["metadata"]["resourceVersion"] == "7"
    assert [o["uid"] for o in updated["metadata"]["ownerReferences"]] == ["a", "b"]
    assert updated["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "nodePort": 31000}]
