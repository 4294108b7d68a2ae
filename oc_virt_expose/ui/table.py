"""Tables as `kubectl get` prints them, and `list`'s table of what reaches each VM; pure (text in, text out).

kubectl's layout (Go's tabwriter as kubectl sets it up): an upper-case header line, each column as wide
as its widest cell plus 3 spaces (at least 6), the last column not padded; `<none>` for an empty cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from oc_virt_expose.model.endpoints import ingress
from oc_virt_expose.model.exposure import Exposure, ServiceReach, cluster_ips, dns_name
from oc_virt_expose.model.labels import format_labels
from oc_virt_expose.model.objects import host_port, name_of, namespace_of

NONE = "<none>"
PENDING = "<pending>"
PADDING = 3
MIN_WIDTH = 6
NODE = "<node>"
"""Stands for any node's address in a node-port address (nodes are not listed)."""

COLUMNS = ("NAME", "SERVICE", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "ENDPOINTS", "ROUTE", "VIRT-EXPOSE")
WIDE_COLUMNS = ("SELECTOR", "REACH")


def format_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """The table as text, a newline after each line (nothing at all without rows, as kubectl)."""
    lines = [list(headers)] + [[cell or NONE for cell in row] for row in rows]
    if len(lines) == 1:
        return ""
    widths = [max(MIN_WIDTH, max(len(line[column]) for line in lines) + PADDING) for column in range(len(headers))]
    return "".join("".join(cell.ljust(width) for cell, width in zip(line[:-1], widths)) + line[-1] + "\n"
                   for line in lines)


def exposure_table(exposures: Iterable[Exposure], *, wide: bool = False, namespaces: bool = False) -> str:
    """`list`'s table: a row per (object, Service), one row of `<none>` for an object nothing selects;
    `wide` adds the selector and the addresses to reach it; `namespaces` (-A) a NAMESPACE column first."""
    headers = (("NAMESPACE",) if namespaces else ()) + COLUMNS + (WIDE_COLUMNS if wide else ())
    rows = []
    for exposure in exposures:
        first = ([namespace_of(exposure.target)] if namespaces else []) + [name_of(exposure.target)]
        if not exposure.services:
            rows.append(first + [NONE] * (len(headers) - len(first)))
        for reach in exposure.services:
            rows.append(first + service_cells(reach) + (wide_cells(reach.service) if wide else []))
    return format_table(headers, rows)


def service_cells(reach: ServiceReach) -> list[str]:
    """SERVICE, TYPE, CLUSTER-IP, EXTERNAL-IP, PORT(S), ENDPOINTS, ROUTE, VIRT-EXPOSE."""
    service = reach.service
    return [name_of(service), str((service.get("spec") or {}).get("type", "ClusterIP")),
            ",".join(cluster_ips(service)), external_ips(service), ports(service),
            f"{len(reach.ready)}/{reach.endpoints}", routes(reach), "yes" if reach.made_by_virt_expose else "no"]


def wide_cells(service: Mapping[str, Any]) -> list[str]:
    """SELECTOR, REACH."""
    return [format_labels((service.get("spec") or {}).get("selector") or {}), ",".join(reach_addresses(service))]


def external_ips(service: Mapping[str, Any]) -> str:
    """kubectl's EXTERNAL-IP: the load balancer's addresses (`<pending>` until it has one) and the
    external IPs."""
    spec = service.get("spec") or {}
    external = list(spec.get("externalIPs") or [])
    if spec.get("type") == "LoadBalancer":
        return ",".join(ingress(service) + external) or PENDING
    if spec.get("type") == "ExternalName":
        return str(spec.get("externalName", ""))
    return ",".join(external)


def ports(service: Mapping[str, Any]) -> str:
    """kubectl's PORT(S): `80/TCP`, `22:30022/TCP` with a node port."""
    def one(port: Mapping[str, Any]) -> str:
        node_port = f":{port['nodePort']}" if port.get("nodePort") else ""
        return f"{port.get('port')}{node_port}/{port.get('protocol', 'TCP')}"

    return ",".join(one(port) for port in (service.get("spec") or {}).get("ports") or [])


def routes(reach: ServiceReach) -> str:
    """The Routes' URLs; a Route a router refused shows the reason instead, as `oc get routes` does."""
    return ",".join(route.url or "" if route.admitted is not False else route.reason.split(":", 1)[0]
                    for route in reach.routes)


def reach_addresses(service: Mapping[str, Any]) -> list[str]:
    """Where to connect, per port: the DNS name inside the cluster, any node's node port, the load balancer's
    and the external addresses."""
    spec = service.get("spec") or {}
    service_ports = spec.get("ports") or []
    dns = dns_name(service)
    addresses = [host_port(dns, port["port"]) for port in service_ports] or [dns]
    addresses += [host_port(NODE, port["nodePort"]) for port in service_ports if port.get("nodePort")]
    for address in ingress(service) + list(spec.get("externalIPs") or []):
        addresses += [host_port(address, port["port"]) for port in service_ports]
    return addresses
