"""`model.exposure`: which Services reach each VM (template or pod labels, whoever made them), their ready
endpoints on that VM's pods, their Routes, and `list`'s document."""

from __future__ import annotations

from typing import Any

from oc_virt_expose.model.exposure import (
    EXPOSURE_KIND,
    Exposure,
    Inventory,
    exposure_list,
    find_exposures,
    made_by_virt_expose,
    named,
)
from oc_virt_expose.model.kinds import VM, VMI, VMIRS
from tests.unit.builders import NAMESPACE, endpoint_slice, replica_set, vm, vmi


def launcher(name: str, vmi_name: str, labels: dict[str, str] | None = None, *, namespace: str = NAMESPACE,
             phase: str = "Running", deleting: bool = False) -> dict[str, Any]:
    """A launcher pod owned by its VMI, as virt-controller makes it."""
    metadata: dict[str, Any] = {
        "name": name, "namespace": namespace, "uid": f"uid-{name}",
        "labels": {"kubevirt.io": "virt-launcher", "vm.kubevirt.io/name": vmi_name, **(labels or {})},
        "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "name": vmi_name,
                             "uid": f"uid-{vmi_name}", "controller": True}]}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-27T10:00:00Z"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "status": {"phase": phase}}


def service(name: str, selector: dict[str, str] | None, *, namespace: str = NAMESPACE, type_: str = "ClusterIP",
            labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
            ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": type_, "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                            "ports": ports or [{"port": 80, "protocol": "TCP", "targetPort": 80}]}
    if selector is not None:
        spec["selector"] = selector
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels or {}}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


def slice_of(service_name: str, endpoints: list[tuple[str, str, bool | None]], family: str = "IPv4") -> dict[str, Any]:
    """An EndpointSlice of the Service in NAMESPACE; endpoints: (pod name, address, ready)."""
    built = endpoint_slice(family, [(pod, f"uid-{pod}", address, ready) for pod, address, ready in endpoints],
                           service=service_name)
    built["metadata"]["namespace"] = NAMESPACE
    return built


def route(name: str, to: str, host: str = "web.apps.example", *, admitted: str | None = "True",
          reason: str = "", tls: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"host": host, "to": {"kind": "Service", "name": to}}
    if tls:
        spec["tls"] = {"termination": "edge"}
    status: dict[str, Any] = {}
    if admitted is not None:
        condition = {"type": "Admitted", "status": admitted, **({"reason": reason} if reason else {})}
        status = {"ingress": [{"host": host, "routerName": "default", "conditions": [condition]}]}
    return {"apiVersion": "route.openshift.io/v1", "kind": "Route",
            "metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec, "status": status}


def one(exposures: list[Exposure], name: str) -> Exposure:
    [found] = [e for e in exposures if e.target["metadata"]["name"] == name]
    return found


def test_a_service_made_by_hand_selecting_the_template_counts() -> None:
    inventory = Inventory([vm("web", template_labels={"app": "web"})], [], [service("by-hand", {"app": "web"})], [])
    [exposure] = find_exposures(VM, inventory)
    [reach] = exposure.services
    assert (reach.service["metadata"]["name"], reach.through, reach.made_by_virt_expose) == (
        "by-hand", ("template",), False)
    assert (reach.ready, reach.endpoints, reach.routes) == ((), 0, ())


def test_a_service_selecting_pod_labels_only_counts_through_the_pods() -> None:
    """`vmi.kubevirt.io/id` is on the launcher pod, never in the template."""
    pods = [launcher("virt-launcher-web-abcde", "web", {"app": "web", "vmi.kubevirt.io/id": "web"})]
    inventory = Inventory([vm("web", template_labels={"app": "web"})], pods,
                          [service("by-id", {"vmi.kubevirt.io/id": "web"}), service("both", {"app": "web"})], [])
    [exposure] = find_exposures(VM, inventory)
    assert exposure.pods == ("virt-launcher-web-abcde",)
    assert [(r.service["metadata"]["name"], r.through) for r in exposure.services] == [
        ("both", ("template", "pods")), ("by-id", ("pods",))]


def test_other_vms_services_selectorless_and_other_namespaces_do_not_count() -> None:
    services = [service("other", {"app": "db"}), service("manual-endpoints", None), service("empty", {}),
                service("elsewhere", {"app": "web"}, namespace="other-namespace"),
                service("superset", {"app": "web", "tier": "front"})]
    inventory = Inventory([vm("web", template_labels={"app": "web"})], [], services, [])
    assert find_exposures(VM, inventory)[0].services == ()


def test_finishing_pods_do_not_select_but_stay_the_vms() -> None:
    pods = [launcher("virt-launcher-web-old00", "web", {"live": "yes"}, deleting=True),
            launcher("virt-launcher-web-done0", "web", {"live": "yes"}, phase="Succeeded")]
    inventory = Inventory([vm("web")], pods, [service("live", {"live": "yes"})], [])
    [exposure] = find_exposures(VM, inventory)
    assert exposure.services == ()
    assert set(exposure.pods) == {"virt-launcher-web-old00", "virt-launcher-web-done0"}


def test_pods_belong_by_owner_reference_not_by_name_prefix() -> None:
    """VM `web` and VM `web-1`: `virt-launcher-web-1-xxxxx` is web-1's (its owner says so)."""
    pods = [launcher("virt-launcher-web-1-abcde", "web-1", {"app": "x"})]
    inventory = Inventory([vm("web"), vm("web-1", uid="u2")], pods, [service("x", {"app": "x"})], [])
    exposures = find_exposures(VM, inventory)
    assert one(exposures, "web").pods == () and one(exposures, "web").services == ()
    assert one(exposures, "web-1").pods == ("virt-launcher-web-1-abcde",)
    assert len(one(exposures, "web-1").services) == 1


def test_ready_endpoints_on_this_vms_pods_out_of_all_of_the_services() -> None:
    """A Service that selects two VMs: each sees its own ready pod out of both; dual stack counts a pod once."""
    a_pod, b_pod = "virt-launcher-a-aaaaa", "virt-launcher-b-bbbbb"
    pods = [launcher(a_pod, "a", {"app": "lab"}), launcher(b_pod, "b", {"app": "lab"})]
    slices = [slice_of("lab", [(a_pod, "10.244.0.5", True), (b_pod, "10.244.0.6", False)]),
              slice_of("lab", [(a_pod, "fd00::5", None)], family="IPv6")]
    inventory = Inventory([vm("a", uid="ua"), vm("b", uid="ub")], pods, [service("lab", {"app": "lab"})], slices)
    exposures = find_exposures(VM, inventory)
    a, b = one(exposures, "a").services[0], one(exposures, "b").services[0]
    assert (a.ready, a.endpoints, a.addresses) == ((a_pod,), 2, ("10.244.0.5:80", "[fd00::5]:80"))
    assert (b.ready, b.endpoints, b.addresses) == ((), 2, ())


def test_routes_to_the_service_with_their_url_and_admission() -> None:
    routes = [route("web-tls", "web", "secure.apps.example", tls=True),
              route("web", "web"),
              route("claimed", "web", "taken.apps.example", admitted="False", reason="HostAlreadyClaimed"),
              route("pending", "web", "new.apps.example", admitted=None),
              route("to-other", "other")]
    inventory = Inventory([vm("web", template_labels={"app": "web"})], [], [service("web", {"app": "web"})], [],
                          routes)
    [reach] = find_exposures(VM, inventory)[0].services
    assert [(r.name, r.url, r.admitted, r.reason) for r in reach.routes] == [
        ("claimed", "http://taken.apps.example", False, "HostAlreadyClaimed"),
        ("pending", "http://new.apps.example", None, ""),
        ("web", "http://web.apps.example", True, ""),
        ("web-tls", "https://secure.apps.example", True, "")]


def test_made_by_virt_expose_by_its_label_or_annotation() -> None:
    assert made_by_virt_expose(service("s", {}, labels={"virt-expose.kubevirt.io/vm": "web"}))
    assert made_by_virt_expose(service("s", {}, labels={"virt-expose.kubevirt.io/vmirs": "rs"}))
    assert made_by_virt_expose(service("s", {}, annotations={
        "virt-expose.kubevirt.io/exposes": "virtualmachine.kubevirt.io/web"}))
    assert not made_by_virt_expose(service("s", {}, labels={"app": "web", "virt-expose.kubevirt.io/other": "x"}))


def test_a_vmi_is_matched_on_its_own_labels() -> None:
    target = vmi("standalone", labels={"app": "solo"})
    pods = [launcher("virt-launcher-standalone-abcde", "standalone", {"app": "solo"})]
    [exposure] = find_exposures(VMI, Inventory([target], pods, [service("solo", {"app": "solo"})], []))
    assert exposure.services[0].through == ("template", "pods")


def test_a_replica_sets_pods_through_its_vmis() -> None:
    rs = replica_set("web-replicas", template_labels={"app": "replicas"})
    vmis = []
    for name in ("web-replicas-x1", "web-replicas-x2"):
        instance = vmi(name, labels={"app": "replicas"}, uid=f"uid-{name}")
        instance["metadata"]["ownerReferences"] = [{"kind": "VirtualMachineInstanceReplicaSet", "name": "web-replicas"}]
        vmis.append(instance)
    pods = [launcher("virt-launcher-web-replicas-x1-aaaaa", "web-replicas-x1", {"app": "replicas"}),
            launcher("virt-launcher-web-replicas-x2-bbbbb", "web-replicas-x2", {"app": "replicas"}),
            launcher("virt-launcher-web-replicas-other-ccccc", "web-replicas-other", {"app": "replicas"})]
    slices = [slice_of("replicas", [(p["metadata"]["name"], f"10.0.0.{i}", True) for i, p in enumerate(pods)])]
    inventory = Inventory([rs], pods, [service("replicas", {"app": "replicas"})], slices, vmis=vmis)
    [exposure] = find_exposures(VMIRS, inventory)
    assert set(exposure.pods) == {"virt-launcher-web-replicas-x1-aaaaa", "virt-launcher-web-replicas-x2-bbbbb"}
    [reach] = exposure.services
    assert (len(reach.ready), reach.endpoints) == (2, 3)


def test_named_keeps_the_order_asked_and_says_which_are_missing() -> None:
    targets = [vm("a"), vm("b"), vm("c")]
    found, missing = named(targets, ["c", "x", "a", "c"])
    assert [t["metadata"]["name"] for t in found] == ["c", "a"]
    assert missing == ["x"]
    assert named(targets, []) == (targets, [])


def test_the_list_document() -> None:
    made = service("web", {"app": "web"}, type_="LoadBalancer",
                   labels={"virt-expose.kubevirt.io/vm": "web"},
                   annotations={"virt-expose.kubevirt.io/exposes": "virtualmachine.kubevirt.io/web"},
                   ports=[{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080}])
    made["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}
    pods = [launcher("virt-launcher-web-abcde", "web", {"app": "web"})]
    inventory = Inventory([vm("web", template_labels={"app": "web"}), vm("idle", uid="u2")], pods, [made],
                          [slice_of("web", [("virt-launcher-web-abcde", "10.244.0.5", True)])],
                          [route("web", "web", admitted="False", reason="HostAlreadyClaimed")])
    document = exposure_list(VM, find_exposures(VM, inventory))
    assert {k: document[k] for k in ("apiVersion", "kind", "metadata")} == {
        "apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}}
    web, idle = document["items"]
    assert (web["apiVersion"], web["kind"]) == ("virt-expose.kubevirt.io/v1alpha1", EXPOSURE_KIND)
    assert web["metadata"] == {"name": "web", "namespace": NAMESPACE}
    assert web["target"] == {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": "web",
                             "uid": "11111111-2222-3333-4444-555555555555"}
    assert web["pods"] == ["virt-launcher-web-abcde"]
    assert web["services"] == [{
        "name": "web", "type": "LoadBalancer", "selector": {"app": "web"}, "selectedThrough": ["template", "pods"],
        "madeByVirtExpose": True, "exposes": "virtualmachine.kubevirt.io/web", "clusterIPs": ["10.96.0.10"],
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080}],
        "externalIPs": [], "loadBalancer": ["203.0.113.10"], "dns": f"web.{NAMESPACE}.svc",
        "endpoints": {"ready": 1, "total": 1, "addresses": ["10.244.0.5:80"]},
        "routes": [{"name": "web", "url": "http://web.apps.example", "admitted": False,
                    "reason": "HostAlreadyClaimed"}]}]
    assert idle["services"] == [] and idle["pods"] == []
