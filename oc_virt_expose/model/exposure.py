"""What reaches each VM (or VMI, VMIRS): the Services that select its pods, whoever made them, with their
ready endpoints and Routes; and `list`'s document. Pure: it works on what batched LISTs returned.

A Service selects an object when its selector is a non-empty subset of the object's template labels (a
VM's or VMIRS's `spec.template.metadata.labels`, a VMI's own labels: what its next pod gets) or of the
labels of one of its running launcher pods (labels added live, KubeVirt's own such as
`vmi.kubevirt.io/id`). Which pod is whose comes from owner references: a launcher pod is owned by its VMI
(named as its VM), and the VMIs of a replica set are owned by it. Ready endpoints are counted per pod,
from the Service's EndpointSlices (IPv4 and IPv6 slices of one pod count once).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from oc_virt_expose.model.endpoints import SERVICE_NAME_LABEL, PodMatcher, evaluate, ingress
from oc_virt_expose.model.kinds import RESOURCE_KINDS, VMI, VMIRS, ResourceKind
from oc_virt_expose.model.objects import (
    Object,
    is_finishing,
    name_of,
    namespace_of,
    own_labels,
    template_labels,
    uid_of,
)
from oc_virt_expose.model.route import admission, route_url, routed_service
from oc_virt_expose.model.service import EXPOSES_ANNOTATION, LABEL_PREFIX, exposed_by_label

EXPOSURE_API_VERSION = f"{LABEL_PREFIX}/v1alpha1"
EXPOSURE_KIND = "Exposure"
"""The items of `list -o yaml|json`: a report, not an API the server serves."""
THROUGH_TEMPLATE = "template"
THROUGH_PODS = "pods"

Key = tuple[str, str]
"""(namespace, name)."""


class Inventory(NamedTuple):
    """What one LIST per kind returned, in one namespace or all."""

    targets: Sequence[Object]
    """The VMs, VMIs or VMIRSs to report on."""
    pods: Sequence[Object]
    """Launcher pods (`kubevirt.io=virt-launcher`)."""
    services: Sequence[Object]
    endpoint_slices: Sequence[Object]
    routes: Sequence[Object] | None = None
    """None: the Route API is not served (or not readable)."""
    vmis: Sequence[Object] = ()
    """Only for replica sets: which VMI belongs to which replica set."""


class RouteReach(NamedTuple):
    name: str
    url: str | None
    admitted: bool | None
    """True: admitted by a router; False: refused (`reason` says why); None: no router answered yet."""
    reason: str = ""


class ServiceReach(NamedTuple):
    """One Service that selects the object."""

    service: Object
    through: tuple[str, ...]
    """What its selector matched: `template`, `pods` or both."""
    ready: tuple[str, ...]
    """The object's pods with a ready endpoint."""
    endpoints: int
    """All endpoints of the Service (one per pod, or per address without a pod), ready or not."""
    addresses: tuple[str, ...]
    """`10.244.0.5:80` per ready address and port on the object's pods."""
    routes: tuple[RouteReach, ...]
    made_by_virt_expose: bool


class Exposure(NamedTuple):
    """One VM (or VMI, VMIRS) and what reaches it; `services` empty when nothing does."""

    target: Object
    pods: tuple[str, ...]
    """Its launcher pods, running or not."""
    services: tuple[ServiceReach, ...]


def find_exposures(kind: ResourceKind, inventory: Inventory) -> list[Exposure]:
    """An `Exposure` per target, in the order of `inventory.targets`; Services in name order."""
    pods = _pods_by_owner(kind, inventory)
    index = SelectorIndex(inventory.services)
    slices = _group(inventory.endpoint_slices, lambda s: own_labels(s).get(SERVICE_NAME_LABEL, ""))
    routes = _group(inventory.routes or (), routed_service)
    found = []
    for target in inventory.targets:
        namespace = namespace_of(target)
        owned = pods.get((namespace, name_of(target)), [])
        by_template = index.selecting(namespace, own_labels(target) if kind is VMI else template_labels(target))
        by_pods = {name: service for pod in owned if not is_finishing(pod)
                   for name, service in index.selecting(namespace, own_labels(pod)).items()}
        reaches = []
        for name in sorted(by_template.keys() | by_pods.keys()):
            through = tuple(where for where, selected in ((THROUGH_TEMPLATE, by_template), (THROUGH_PODS, by_pods))
                            if name in selected)
            reaches.append(_reach(by_template.get(name) or by_pods[name], through, owned, slices, routes))
        found.append(Exposure(target, tuple(name_of(pod) for pod in owned), tuple(reaches)))
    return found


class SelectorIndex:
    """Services by one pair of their selector, so finding those that select a set of labels costs a
    lookup per label, not a comparison per Service (200 VMs x 200 Services)."""

    def __init__(self, services: Iterable[Object]) -> None:
        self._by_pair: dict[tuple[str, str, str], list[Object]] = {}
        for service in services:
            selector = (service.get("spec") or {}).get("selector") or {}
            if selector:  # no selector: endpoints kept by hand, it selects no pod
                key, value = min(selector.items())
                self._by_pair.setdefault((namespace_of(service), key, value), []).append(service)

    def selecting(self, namespace: str, labels: Mapping[str, str]) -> dict[str, Object]:
        """Name -> Service of the namespace whose whole selector is among `labels`."""
        found = {}
        for key, value in labels.items():
            for service in self._by_pair.get((namespace, key, value), ()):
                selector = (service.get("spec") or {}).get("selector") or {}
                if all(labels.get(k) == v for k, v in selector.items()):
                    found[name_of(service)] = service
        return found


def named(targets: Sequence[Object], names: Sequence[str]) -> tuple[list[Object], list[str]]:
    """The targets named `names`, in that order (all when `names` is empty), and the names not found."""
    if not names:
        return list(targets), []
    by_name = {name_of(target): target for target in targets}
    wanted = list(dict.fromkeys(names))
    return [by_name[name] for name in wanted if name in by_name], [name for name in wanted if name not in by_name]


def made_by_virt_expose(service: Mapping[str, Any]) -> bool:
    """The Service carries virt-expose's label (`virt-expose.kubevirt.io/<vm|vmi|vmirs>`) or annotation."""
    meta = service.get("metadata") or {}
    labels = meta.get("labels") or {}
    return EXPOSES_ANNOTATION in (meta.get("annotations") or {}) or any(
        exposed_by_label(kind.short) in labels for kind in RESOURCE_KINDS)


def dns_name(service: Mapping[str, Any]) -> str:
    """`NAME.NAMESPACE.svc`: resolves from every pod whatever the cluster domain (see `ui.printer`)."""
    return f"{name_of(service)}.{namespace_of(service) or 'default'}.svc"


def cluster_ips(service: Mapping[str, Any]) -> list[str]:
    spec = service.get("spec") or {}
    return list(spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []))


def exposure_list(kind: ResourceKind, exposures: Iterable[Exposure]) -> Object:
    """`list -o yaml|json`: a `List` as kubectl prints one, an `Exposure` item per object:

    metadata (name, namespace), target (apiVersion, kind, name, uid), pods (launcher pod names), services:
    [{name, type, selector, selectedThrough, madeByVirtExpose, exposes (virt-expose's annotation, when set),
    clusterIPs, ports (as in the Service), externalIPs, loadBalancer (ingress addresses), dns, endpoints:
    {ready (the object's pods with a ready endpoint), total (all endpoints of the Service), addresses},
    routes: [{name, url, admitted, reason}]}].
    """
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
            "items": [_exposure_document(kind, exposure) for exposure in exposures]}


def _exposure_document(kind: ResourceKind, exposure: Exposure) -> Object:
    target = exposure.target
    return {
        "apiVersion": EXPOSURE_API_VERSION,
        "kind": EXPOSURE_KIND,
        "metadata": {"name": name_of(target), "namespace": namespace_of(target)},
        "target": {"apiVersion": kind.api_version, "kind": kind.kind, "name": name_of(target), "uid": uid_of(target)},
        "pods": list(exposure.pods),
        "services": [_service_document(reach) for reach in exposure.services],
    }


def _service_document(reach: ServiceReach) -> Object:
    service = reach.service
    spec = service.get("spec") or {}
    document: Object = {"name": name_of(service), "type": spec.get("type", "ClusterIP"),
                        "selector": dict(spec.get("selector") or {}), "selectedThrough": list(reach.through),
                        "madeByVirtExpose": reach.made_by_virt_expose}
    exposes = ((service.get("metadata") or {}).get("annotations") or {}).get(EXPOSES_ANNOTATION)
    if exposes:
        document["exposes"] = exposes
    document.update(
        clusterIPs=cluster_ips(service), ports=list(spec.get("ports") or []),
        externalIPs=list(spec.get("externalIPs") or []), loadBalancer=ingress(service), dns=dns_name(service),
        endpoints={"ready": len(reach.ready), "total": reach.endpoints, "addresses": list(reach.addresses)},
        routes=[_route_document(route) for route in reach.routes])
    return document


def _route_document(route: RouteReach) -> Object:
    document: Object = {"name": route.name, "url": route.url, "admitted": route.admitted}
    if route.reason:
        document["reason"] = route.reason
    return document


def _pods_by_owner(kind: ResourceKind, inventory: Inventory) -> dict[Key, list[Object]]:
    """(namespace, target name) -> its launcher pods, from the pods' VMI owner (and, for replica sets,
    the VMI's replica-set owner)."""
    vmi_owner: dict[Key, str] = {}
    if kind is VMIRS:
        for vmi in inventory.vmis:
            owner = _owner(vmi, VMIRS.kind)
            if owner:
                vmi_owner[(namespace_of(vmi), name_of(vmi))] = owner
    pods: dict[Key, list[Object]] = {}
    for pod in inventory.pods:
        vmi_name = _owner(pod, VMI.kind)
        key = (namespace_of(pod), vmi_name) if kind is not VMIRS else \
            (namespace_of(pod), vmi_owner.get((namespace_of(pod), vmi_name), ""))
        if vmi_name and key[1]:
            pods.setdefault(key, []).append(pod)
    return pods


def _owner(obj: Mapping[str, Any], kind: str) -> str:
    for reference in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if reference.get("kind") == kind:
            return str(reference.get("name", ""))
    return ""


def _reach(service: Object, through: tuple[str, ...], pods: Sequence[Object],
           slices: Mapping[Key, Sequence[Object]], routes: Mapping[Key, Sequence[Object]]) -> ServiceReach:
    key = (namespace_of(service), name_of(service))
    report = evaluate(slices.get(key, ()), _exactly(name_of(pod) for pod in pods))
    endpoints = len(report.ready_pods | report.unready_pods | report.other_pods)
    reaches = tuple(RouteReach(name_of(route), route_url(route), *admission(route))
                    for route in sorted(routes.get(key, ()), key=name_of))
    return ServiceReach(service, through, tuple(sorted(report.ready_pods)), endpoints, tuple(report.ready),
                        reaches, made_by_virt_expose(service))


def _exactly(pod_names: Iterable[str]) -> PodMatcher:
    """A matcher of exactly these pods (known from owner references, not guessed from names)."""
    names = sorted(set(pod_names))
    return PodMatcher(re.compile("|".join(re.escape(name) for name in names) if names else "(?!)"))


def _group(objects: Iterable[Object], name: Callable[[Object], str]) -> dict[Key, list[Object]]:
    """(namespace, name(obj)) -> objects."""
    grouped: dict[Key, list[Object]] = {}
    for obj in objects:
        grouped.setdefault((namespace_of(obj), name(obj)), []).append(obj)
    return grouped
