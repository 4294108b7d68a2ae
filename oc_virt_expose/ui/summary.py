"""The "how to reach it" summary after an `expose`: where the Service answers (inside the cluster, node ports,
load balancer, external IPs), then the way in, what a person types (`SSH: ssh -p 30022 fedora@192.0.2.10`),
then the Route's URL.

The DNS name printed is `<service>.<namespace>.svc`: it resolves from every pod through the cluster's search
path whatever the cluster domain is (which the API does not tell; often `cluster.local`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from oc_virt_expose.model.endpoints import ingress
from oc_virt_expose.model.objects import host_port
from oc_virt_expose.model.reach import Reach, ways_in
from oc_virt_expose.model.route import admission, admitting_router, route_url
from oc_virt_expose.model.service import LOAD_BALANCER_PROVIDER_HINT

EXAMPLE_NODES = 3


def summary_lines(service: Mapping[str, Any], reach: Reach) -> list[str]:
    """Every line of the summary: addresses, the ways in, the Route."""
    return [*reach_lines(service, reach.node_addresses), *way_in_lines(service, reach), *route_lines(reach.route)]


def reach_lines(service: Mapping[str, Any], node_addresses: Sequence[str] = ()) -> list[str]:
    """How to reach the Service as created (with its status): cluster, node ports, load balancer."""
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    ports = spec.get("ports") or []
    dns = f"{meta.get('name', '')}.{meta.get('namespace', 'default')}.svc"
    listed = ", ".join(f"{p['port']}/{p.get('protocol', 'TCP')}" for p in ports) or "any port"
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    if spec.get("clusterIP") == "None":
        lines = [f"Inside the cluster: {dns} on {listed} (headless: the name resolves to the VM's pod)"]
    else:
        ips = ", ".join(cluster_ips) or "cluster IP pending"
        lines = [f"Inside the cluster: {dns} on {listed} (cluster IP {ips})"]
    lines += _node_port_lines(spec, ports, node_addresses)
    lines += _load_balancer_lines(service, ports)
    for address in spec.get("externalIPs") or []:
        lines.append("External IP: " + ", ".join(host_port(address, p["port"]) for p in ports))
    return lines


def _node_port_lines(
    spec: Mapping[str, Any], ports: Sequence[Mapping[str, Any]], node_addresses: Sequence[str]
) -> list[str]:
    if spec.get("type") not in ("NodePort", "LoadBalancer"):
        return []
    local = spec.get("externalTrafficPolicy") == "Local"
    nodes = "the node running the VM (external traffic policy Local)" if local else "every node"
    lines = []
    for port in ports:
        node_port = port.get("nodePort")
        if not node_port:
            continue
        where = f"node port {node_port}/{port.get('protocol', 'TCP')} of {nodes}"
        examples = ", ".join(host_port(a, node_port) for a in node_addresses[:EXAMPLE_NODES])
        lines.append(f"From outside the cluster: {where}" + (f", e.g. {examples}" if examples else ""))
    return lines


def _load_balancer_lines(service: Mapping[str, Any], ports: Sequence[Mapping[str, Any]]) -> list[str]:
    if (service.get("spec") or {}).get("type") != "LoadBalancer":
        return []
    addresses = ingress(service)
    if not addresses:
        return [f"Load balancer: address pending ({LOAD_BALANCER_PROVIDER_HINT})"]
    return ["Load balancer: " + ", ".join(host_port(a, p["port"]) for a in addresses for p in ports)]


def way_in_lines(service: Mapping[str, Any], reach: Reach) -> list[str]:
    """`SSH: ssh -p 30022 fedora@192.0.2.10`, `SSH inside the cluster: ssh -p 22 fedora@vm.ns.svc`, ..."""
    return [f"{way.access.value}{' inside the cluster' if way.inside else ''}: {way.command}"
            for way in ways_in(service, reach)]


def route_lines(route: Mapping[str, Any] | None) -> list[str]:
    """`Route: https://host/path`, with the router's refusal when it did not admit the Route."""
    if route is None:
        return []
    url = route_url(route) or "no host yet"
    admitted, reason = admission(route, current=True)
    if admitted:
        return [f"Route: {url}"]
    if admitted is None:
        return [f"Route: {url} (not admitted by a router yet)"]
    router = admitting_router(route)
    return [f"Route: {url} (not admitted{f' by router {router}' if router else ''}: {reason})"]
