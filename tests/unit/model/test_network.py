from __future__ import annotations

from typing import Any

import pytest

from oc_virt_expose.errors import RefusedError, UsageError
from oc_virt_expose.model.network import (
    DeclaredPort,
    GuestPort,
    PodInterface,
    check_target_ports,
    find_pod_interface,
    guest_port,
    network_policy_warnings,
)
from oc_virt_expose.model.ports import PortSpec, ServicePort, service_ports


def spec(networks: list | None = None, interfaces: list | None = None, **devices: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"domain": {"devices": dict(devices)}}
    if networks is not None:
        result["networks"] = networks
    if interfaces is not None:
        result["domain"]["devices"]["interfaces"] = interfaces
    return result


POD_NET = [{"name": "default", "pod": {}}]
MASQUERADE_WITH_PORTS = [{"name": "default", "masquerade": {}, "ports": [
    {"name": "http", "port": 80}, {"port": 53, "protocol": "UDP"}]}]


def test_auto_attached_interface_forwards_every_port() -> None:
    interface = find_pod_interface(spec(), "VM example-vm")
    assert interface == PodInterface("default", "masquerade", auto_attached=True,
                                     ports_path="spec.template.spec.domain.devices.interfaces")
    assert interface.forwards_every_port
    assert check_target_ports(interface, [ServicePort(None, 80, "TCP", 9376, 30000)]) == []


def test_autoattach_false_without_interfaces_is_refused() -> None:
    with pytest.raises(RefusedError, match="has no network interface"):
        find_pod_interface(spec(autoattachPodInterface=False), "VM x")


def test_only_multus_networks_is_refused_with_why() -> None:
    networks = [{"name": "data", "multus": {"networkName": "br1"}}]
    with pytest.raises(RefusedError, match=r"no interface on the pod network \(its networks: data \(multus\)\)"):
        find_pod_interface(spec(networks, [{"name": "data", "bridge": {}}]), "VM x")


def test_declared_pod_interface() -> None:
    interface = find_pod_interface(spec(POD_NET, MASQUERADE_WITH_PORTS), "VMI x", spec_path="spec")
    assert interface.binding == "masquerade"
    assert interface.ports == (DeclaredPort(80, "TCP", "http"), DeclaredPort(53, "UDP"))
    assert interface.ports_path == "spec.domain.devices.interfaces"
    assert not interface.forwards_every_port
    bridge = find_pod_interface(spec(POD_NET, [{"name": "default", "bridge": {}, "ports": [{"port": 1}]}]), "x")
    assert bridge.forwards_every_port
    plugin = find_pod_interface(spec(POD_NET, [{"name": "default", "binding": {"name": "passt"}}]), "x")
    assert plugin.binding == "plugin passt"


def test_declared_ports_become_the_services_ports_as_virtctl() -> None:
    interfaces = [{"name": "default", "masquerade": {}, "ports": [
        {"name": "ssh", "port": 22}, {"port": 53, "protocol": "udp"}, {"port": 53, "protocol": "TCP"}]}]
    specs = find_pod_interface(spec(POD_NET, interfaces), "VM x").port_specs()
    assert specs == [PortSpec(22, 22, "TCP", "ssh"), PortSpec(53, 53, "UDP"), PortSpec(53, 53, "TCP")]
    assert [p.name for p in service_ports(specs)] == ["port-1", "port-2-udp", "port-2-tcp"]
    assert [p.name for p in service_ports(specs[:1])] == ["ssh"]  # one declared port keeps its name
    assert [p.name for p in service_ports(specs[:1], port_name="login")] == ["login"]  # --port-name wins
    assert [p.name for p in service_ports(specs[1:2])] == [None]  # declared without a name
    assert service_ports(specs[:1], protocol="UDP")[0].protocol == "TCP"  # --protocol does not override them
    assert find_pod_interface(spec(), "VM x").port_specs() == []
    with pytest.raises(UsageError, match="couldn't find port"):
        service_ports(find_pod_interface(spec(), "VM x").port_specs())


def test_masquerade_refuses_undeclared_ports_naming_the_declared_ones() -> None:
    interface = find_pod_interface(spec(POD_NET, MASQUERADE_WITH_PORTS), "VM x")
    assert check_target_ports(interface, [ServicePort(None, 8080, "TCP", 80)]) == []
    assert check_target_ports(interface, [ServicePort(None, 53, "UDP", 53)]) == []
    with pytest.raises(RefusedError) as refused:
        check_target_ports(interface, [ServicePort(None, 80, "TCP", 9376)])
    message = str(refused.value)
    assert "forwards only 80/TCP (http), 53/UDP to the guest" in message
    assert "{port: 9376, protocol: TCP}" in message
    assert "spec.template.spec.domain.devices.interfaces[name=default].ports" in message
    assert "--force" in message
    with pytest.raises(RefusedError, match="53/TCP"):  # right port, wrong protocol
        check_target_ports(interface, [ServicePort(None, 53, "TCP", 53)])
    forced = check_target_ports(interface, [ServicePort(None, 80, "TCP", 9376)], force=True)
    assert len(forced) == 1 and "9376/TCP" in forced[0]


def test_named_target_ports_resolve_against_declared_names() -> None:
    interface = find_pod_interface(spec(POD_NET, MASQUERADE_WITH_PORTS), "VM x")
    assert guest_port(interface, ServicePort(None, 8080, "TCP", "http")) == GuestPort(80, "TCP", "http")
    assert check_target_ports(interface, [ServicePort(None, 8080, "TCP", "http")]) == []
    with pytest.raises(RefusedError, match='target port "http" \\(UDP\\) is not a port name declared'):
        check_target_ports(interface, [ServicePort(None, 8080, "UDP", "http")])
    auto = find_pod_interface(spec(), "VM x")
    with pytest.raises(RefusedError, match="give --target-port a number"):
        check_target_ports(auto, [ServicePort(None, 80, "TCP", "web")])


def policy(name: str, pod_selector: dict, ingress: list | None = None, types: list | None = None) -> dict:
    spec_: dict[str, Any] = {"podSelector": pod_selector}
    if ingress is not None:
        spec_["ingress"] = ingress
    if types is not None:
        spec_["policyTypes"] = types
    return {"metadata": {"name": name}, "spec": spec_}


POD = {"kubevirt.io": "virt-launcher", "special": "key"}
TARGETS = [GuestPort(9376, "TCP")]


def test_no_policy_or_unrelated_policy_admits_everything() -> None:
    assert network_policy_warnings([], POD, TARGETS) == []
    assert network_policy_warnings([policy("other", {"matchLabels": {"app": "db"}})], POD, TARGETS) == []
    assert network_policy_warnings([policy("egress", {}, types=["Egress"])], POD, TARGETS) == []


def test_deny_all_policy_warns_per_port() -> None:
    warnings = network_policy_warnings([policy("deny-all", {})], POD, [*TARGETS, GuestPort(53, "UDP")])
    assert len(warnings) == 2
    assert warnings[0].startswith("NetworkPolicy deny-all selects the VM's pod and admits no ingress on port 9376/TCP")


def test_rules_that_admit_the_port() -> None:
    admitting = [
        [{}],  # any port from anywhere
        [{"from": [{"podSelector": {}}]}],  # any port, some sources
        [{"ports": [{"protocol": "TCP", "port": 9376}]}],
        [{"ports": [{"port": 9000, "endPort": 9999}]}],
        [{"ports": [{"protocol": "TCP"}]}],
    ]
    for ingress in admitting:
        assert network_policy_warnings([policy("p", {}, ingress)], POD, TARGETS) == [], ingress
    refusing = [
        [{"ports": [{"protocol": "UDP", "port": 9376}]}],
        [{"ports": [{"port": 80}]}],
        [{"ports": [{"port": "http"}]}],
    ]
    for ingress in refusing:
        assert network_policy_warnings([policy("p", {}, ingress)], POD, TARGETS), ingress
    named = network_policy_warnings([policy("p", {}, [{"ports": [{"port": "http"}]}])], POD,
                                    [GuestPort(80, "TCP", "http")])
    assert named == []


def test_policies_add_up() -> None:
    deny = policy("deny-all", {}, types=["Ingress"])
    allow = policy("allow-web", {"matchLabels": {"special": "key"}}, [{"ports": [{"port": 9376}]}])
    assert network_policy_warnings([deny, allow], POD, TARGETS) == []
    warnings = network_policy_warnings([deny, allow], POD, [GuestPort(22, "TCP")])
    assert warnings[0].startswith("NetworkPolicies deny-all, allow-web select")
