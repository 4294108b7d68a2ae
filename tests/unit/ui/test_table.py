"""`ui.table`: kubectl's table layout, and `list`'s columns (kubectl's Service cells, endpoints, Routes,
who made it, the wide columns)."""

from __future__ import annotations

from typing import Any

from oc_virt_expose.model.exposure import Exposure, RouteReach, ServiceReach
from oc_virt_expose.ui.table import exposure_table, external_ips, format_table, ports, reach_addresses


def service(name: str = "web", *, type_: str = "ClusterIP", namespace: str = "ns",
            service_ports: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": type_, "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                     "ports": [{"port": 80, "protocol": "TCP"}] if service_ports is None else service_ports,
                     "selector": {"app": "web"}, **spec}}


def vm(name: str, namespace: str = "ns") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace}}


def reach(svc: dict[str, Any], *, ready: int = 1, endpoints: int = 1, routes: tuple[RouteReach, ...] = (),
          made: bool = False) -> ServiceReach:
    return ServiceReach(svc, ("template",), tuple(f"pod-{i}" for i in range(ready)), endpoints, (), routes, made)


def test_columns_are_as_wide_as_their_widest_cell_plus_three_the_last_unpadded() -> None:
    assert format_table(["NAME", "TYPE"], [["a-long-name", "ClusterIP"], ["b", ""]]) == (
        "NAME          TYPE\n"
        "a-long-name   ClusterIP\n"
        "b             <none>\n")


def test_narrow_columns_are_at_least_six_wide_and_no_rows_print_nothing() -> None:
    assert format_table(["A", "B"], [["x", "y"]]) == "A     B\nx     y\n"
    assert format_table(["NAME"], []) == ""


def test_kubectl_service_cells() -> None:
    node_ports = [{"port": 22, "nodePort": 30022, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]
    assert ports(service(service_ports=node_ports)) == "22:30022/TCP,53/UDP"
    assert ports(service(service_ports=[])) == ""
    assert external_ips(service(type_="LoadBalancer")) == "<pending>"
    balanced = service(type_="LoadBalancer", externalIPs=["192.0.2.1"])
    balanced["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}, {"hostname": "lb.example"}]}}
    assert external_ips(balanced) == "203.0.113.10,lb.example,192.0.2.1"
    assert external_ips(service(type_="NodePort")) == ""
    assert external_ips(service(type_="ExternalName", externalName="db.example")) == "db.example"


def test_the_exposure_table() -> None:
    routes = (RouteReach("web", "http://web.apps.example", True),
              RouteReach("copy", "http://taken.apps.example", False, "HostAlreadyClaimed: route web is older"))
    exposures = [
        Exposure(vm("web"), ("virt-launcher-web-abcde",), (
            reach(service("web"), routes=routes, made=True),
            reach(service("web-ssh", type_="NodePort", service_ports=[{"port": 22, "nodePort": 30022}]),
                  ready=0, endpoints=2))),
        Exposure(vm("idle"), (), ()),
    ]
    assert exposure_table(exposures).splitlines() == [
        "NAME   SERVICE   TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)        ENDPOINTS   "
        "ROUTE" + " " * 40 + "VIRT-EXPOSE",
        "web    web       ClusterIP   10.96.0.10   <none>        80/TCP         1/1         "
        "http://web.apps.example,HostAlreadyClaimed   yes",
        "web    web-ssh   NodePort    10.96.0.10   <none>        22:30022/TCP   0/2         "
        "<none>" + " " * 39 + "no",
        "idle   <none>    <none>      <none>       <none>        <none>         <none>      "
        "<none>" + " " * 39 + "<none>",
    ]


def test_all_namespaces_and_wide() -> None:
    headless = service("db", namespace="other", clusterIP="None", clusterIPs=["None"])
    table = exposure_table([Exposure(vm("db", "other"), (), (reach(headless),))], wide=True, namespaces=True)
    header, row = table.splitlines()
    assert header.split() == ["NAMESPACE", "NAME", "SERVICE", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)",
                              "ENDPOINTS", "ROUTE", "VIRT-EXPOSE", "SELECTOR", "REACH"]
    assert row.split() == ["other", "db", "db", "ClusterIP", "None", "<none>", "80/TCP", "1/1", "<none>", "no",
                           "app=web", "db.other.svc:80"]


def test_reach_addresses_inside_node_ports_load_balancer_external() -> None:
    svc = service(type_="LoadBalancer", service_ports=[{"port": 22, "nodePort": 30022}], externalIPs=["fd00::7"])
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}
    assert reach_addresses(svc) == ["web.ns.svc:22", "<node>:30022", "203.0.113.10:22", "[fd00::7]:22"]
    assert reach_addresses(service(service_ports=[], clusterIP="None")) == ["web.ns.svc"]
