"""`ui.summary`: the summary's lines after the addresses: the way in per port, the Route's URL."""

from __future__ import annotations

from typing import Any

from oc_virt_expose.model.reach import Reach
from oc_virt_expose.ui.summary import reach_lines, route_lines, summary_lines

SERVICE: dict[str, Any] = {
    "metadata": {"name": "lab", "namespace": "ns"},
    "spec": {"type": "NodePort", "clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5"],
             "ports": [{"name": "ssh", "protocol": "TCP", "port": 22, "targetPort": 22, "nodePort": 30022},
                       {"protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080}]},
}


def test_addresses_then_ways_in_then_route() -> None:
    route = {"spec": {"host": "lab-ns.apps.example", "tls": {"termination": "edge"}},
             "status": {"ingress": [{"host": "lab-ns.apps.example", "routerName": "default",
                                     "conditions": [{"type": "Admitted", "status": "True"}]}]}}
    assert summary_lines(SERVICE, Reach(["192.0.2.10"], "fedora", route)) == [
        "Inside the cluster: lab.ns.svc on 22/TCP, 80/TCP (cluster IP 10.96.0.5)",
        "From outside the cluster: node port 30022/TCP of every node, e.g. 192.0.2.10:30022",
        "From outside the cluster: node port 30080/TCP of every node, e.g. 192.0.2.10:30080",
        "SSH: ssh -p 30022 fedora@192.0.2.10",
        "SSH inside the cluster: ssh -p 22 fedora@lab.ns.svc",
        "HTTP: http://192.0.2.10:30080/",
        "HTTP inside the cluster: http://lab.ns.svc/",
        "Route: https://lab-ns.apps.example",
    ]


def test_local_traffic_policy_names_the_vms_node() -> None:
    local = {**SERVICE, "spec": {**SERVICE["spec"], "externalTrafficPolicy": "Local"}}
    assert reach_lines(local, ["10.0.0.4"])[1] == ("From outside the cluster: node port 30022/TCP of the node running "
                                                   "the VM (external traffic policy Local), e.g. 10.0.0.4:30022")


def test_route_not_admitted_says_why() -> None:
    refused = {"spec": {"host": "shop.example", "path": "/a"},
               "status": {"ingress": [{"host": "shop.example", "routerName": "default", "conditions": [
                   {"type": "Admitted", "status": "False", "reason": "HostAlreadyClaimed",
                    "message": "route b already exposes shop.example and is older"}]}]}}
    assert route_lines(refused) == ["Route: http://shop.example/a (not admitted by router default: "
                                    "HostAlreadyClaimed: route b already exposes shop.example and is older)"]
    assert route_lines({"spec": {"host": "shop.example"}}) == [
        "Route: http://shop.example (not admitted by a router yet)"]
    assert route_lines(None) == []
