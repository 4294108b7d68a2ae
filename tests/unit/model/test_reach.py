"""`model.reach`: what a person types per port, from outside and inside the cluster; node addresses; the
guest's cloud-init user."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from oc_virt_expose.model.reach import (
    Access,
    Reach,
    WayIn,
    access_of,
    command,
    guest_user,
    node_addresses,
    ways_in,
)
from tests.unit.builders import vm


def port(number: int, target: int | str | None = None, *, name: str | None = None, protocol: str = "TCP",
         node_port: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"protocol": protocol, "port": number, "targetPort": number if target is None else target}
    if name:
        entry["name"] = name
    if node_port:
        entry["nodePort"] = node_port
    return entry


def service(*ports: dict[str, Any], kind: str = "ClusterIP", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "lab", "namespace": "ns"},
            "spec": {"type": kind, "clusterIP": spec.pop("cluster_ip", "10.96.0.5"), "ports": list(ports), **spec}}


@pytest.mark.parametrize(("entry", "access"), [
    (port(22), Access.SSH), (port(2222, 22), Access.SSH), (port(22, 2222), Access.SSH),
    (port(2200, "x", name="ssh"), Access.SSH), (port(3389), Access.RDP), (port(1, 2, name="ms-wbt-server"), Access.RDP),
    (port(443), Access.HTTPS), (port(8443), Access.HTTPS), (port(1, name="https"), Access.HTTPS),
    (port(80), Access.HTTP), (port(8080), Access.HTTP), (port(9000, name="http-alt"), Access.HTTP),
    (port(80, 9376), Access.HTTP), (port(5432), None), (port(22, protocol="UDP"), None), (port(53, name="dns"), None),
])
def test_what_a_port_carries(entry: dict[str, Any], access: Access | None) -> None:
    assert access_of(entry) is access


def test_commands() -> None:
    assert command(Access.SSH, "192.0.2.10", 30022, "fedora") == "ssh -p 30022 fedora@192.0.2.10"
    assert command(Access.SSH, "lab.ns.svc", 22) == "ssh -p 22 <user>@lab.ns.svc"
    assert command(Access.RDP, "fd00::1", 3389) == "xfreerdp /v:[fd00::1]:3389"
    assert command(Access.HTTP, "lab.ns.svc", 80) == "http://lab.ns.svc/"
    assert command(Access.HTTP, "fd00::1", 80) == "http://[fd00::1]/"
    assert command(Access.HTTP, "192.0.2.10", 30080) == "http://192.0.2.10:30080/"
    assert command(Access.HTTPS, "lab.ns.svc", 443) == "https://lab.ns.svc/"
    assert command(Access.HTTPS, "lab.ns.svc", 8443) == "https://lab.ns.svc:8443/"


def test_node_port_from_outside_then_inside() -> None:
    svc = service(port(22, node_port=30022), port(5432, node_port=30432), port(3389, node_port=30389), kind="NodePort")
    assert ways_in(svc, Reach(["192.0.2.10", "192.0.2.11"], "fedora")) == [
        WayIn(Access.SSH, "ssh -p 30022 fedora@192.0.2.10", inside=False),
        WayIn(Access.SSH, "ssh -p 22 fedora@lab.ns.svc", inside=True),
        WayIn(Access.RDP, "xfreerdp /v:192.0.2.10:30389", inside=False),
        WayIn(Access.RDP, "xfreerdp /v:lab.ns.svc:3389", inside=True),
    ]
    assert ways_in(svc, Reach())[0].command == "ssh -p 30022 <user>@<node address>"


def test_load_balancer_external_ip_headless_cluster_ip() -> None:
    balanced = service(port(443, node_port=30443), kind="LoadBalancer")
    balanced["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}
    assert [way.command for way in ways_in(balanced, Reach(["192.0.2.10"]))] == [
        "https://203.0.113.7/", "https://lab.ns.svc/"]
    pending = {**balanced, "status": {}}
    assert ways_in(pending, Reach(["192.0.2.10"]))[0].command == "https://192.0.2.10:30443/"
    external = service(port(8080), externalIPs=["198.51.100.1"])
    assert [way.command for way in ways_in(external, Reach())] == ["http://198.51.100.1:8080/", "http://lab.ns.svc:8080/"]
    headless = service(port(2222, 22), cluster_ip="None")
    assert ways_in(headless, Reach(user="cirros")) == [WayIn(Access.SSH, "ssh -p 22 cirros@lab.ns.svc", inside=True)]


def node(name: str, internal: str, external: str | None = None, ready: bool = True) -> dict[str, Any]:
    addresses = [{"type": "InternalIP", "address": internal}, {"type": "Hostname", "address": name}]
    if external:
        addresses.append({"type": "ExternalIP", "address": external})
    return {"metadata": {"name": name}, "status": {"addresses": addresses,
                                                   "conditions": [{"type": "Ready", "status": str(ready)}]}}


def launcher(node_name: str, host_ip: str) -> dict[str, Any]:
    return {"spec": {"nodeName": node_name}, "status": {"hostIP": host_ip}}


def test_node_addresses_vm_nodes_first_external_preferred_ready_only() -> None:
    nodes = [node("a", "10.0.0.1"), node("b", "10.0.0.2", "192.0.2.2"), node("c", "10.0.0.3", ready=False),
             node("d", "10.0.0.4")]
    pods = [launcher("d", "10.0.0.4")]
    assert node_addresses(nodes, pods) == ["10.0.0.4", "10.0.0.1", "192.0.2.2"]
    assert node_addresses(nodes, []) == ["10.0.0.1", "192.0.2.2", "10.0.0.4"]  # a stopped VM: every ready node
    assert node_addresses(nodes, pods, local=True) == ["10.0.0.4"]  # Local: only the VM's node answers
    assert node_addresses(nodes, [], local=True) == []
    assert node_addresses(None, pods) == ["10.0.0.4"]  # nodes not readable: the pods' host IPs


def cloud_init(source: str = "cloudInitNoCloud", **fields: str) -> dict[str, Any]:
    spec = {"domain": {"devices": {}}, "volumes": [{"name": "disk", "containerDisk": {"image": "x"}},
                                                   {"name": "init", source: fields}]}
    return vm("lab", spec=spec)


@pytest.mark.parametrize(("user_data", "user"), [
    ("#cloud-config\nuser: fedora\npassword: secret\nchpasswd: { expire: False }\n", "fedora"),
    ("#cloud-config\nuser:\n  name: admin\n", "admin"),
    ("#cloud-config\nusers:\n  - default\n  - name: alice\n    ssh_authorized_keys: [ssh-ed25519 AAAA]\n", "alice"),
    ("#cloud-config\nuser: fedora\nusers:\n  - name: alice\n", "fedora"),
    ("#cloud-config\nusers: [default]\n", None),
    ("#!/bin/sh\nuseradd bob\n", None),
    ("#cloud-config\nuser: [unclosed\n", None),
])
def test_cloud_init_user(user_data: str, user: str | None) -> None:
    assert guest_user(cloud_init(userData=user_data)) == user


def test_cloud_init_user_from_base64_config_drive_and_vmi() -> None:
    encoded = base64.b64encode(b"#cloud-config\nuser: centos\n").decode()
    assert guest_user(cloud_init("cloudInitConfigDrive", userDataBase64=encoded)) == "centos"
    vmi = {"spec": cloud_init(userData="#cloud-config\nuser: cirros\n")["spec"]["template"]["spec"]}
    assert guest_user(vmi) == "cirros"
    secret = vm("lab", spec={"volumes": [{"name": "init", "cloudInitNoCloud": {"secretRef": {"name": "init"}}}]})
    assert guest_user(secret) is None  # in a Secret: not read
    assert guest_user(vm("lab")) is None
