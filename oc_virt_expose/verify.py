"""Verification by watching, never by polling, under one deadline (`--timeout`).

- Endpoints: ONE watch of the Service's EndpointSlices (label `kubernetes.io/service-name`). A watch
  without a resourceVersion first replays the current slices as ADDED events and then follows changes, so
  it does what a list then a watch from its resourceVersion does, in one request. Done when every IP
  family of the Service has a ready endpoint whose target is the VM's launcher pod. Endpoints of pods that
  are not the VM's show that the selector also matches other workloads (a warning, from the same events).
- Load balancer: a watch of the Service (fieldSelector `metadata.name`) until `status.loadBalancer.ingress`.
- `--timeout 0` checks once (a list instead of a watch).
- A stopped VM is verified statically (plan.static_selector_problem): no request.
The watch is resumed from the last resourceVersion if the server ends it early, and restarted from the
current state after 410 Expired.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from oc_virt_expose.client import Client, resource_path
from oc_virt_expose.errors import ClusterError
from oc_virt_expose.output import host_port

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
LAUNCHER_PREFIX = "virt-launcher-"
_GENERATED_BASE_MAX = 58  # the API server cuts a generateName to 58 characters, then adds 5 random ones

Object = dict[str, Any]


class Deadline:
    """One deadline shared by every wait of the run."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.seconds = seconds
        self.end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - self.clock())

    @property
    def check_once(self) -> bool:
        return self.seconds <= 0


@dataclass(frozen=True)
class PodMatcher:
    """Which pods are the exposed VM's: launcher pods named after its VMI (KubeVirt's generateName
    `virt-launcher-<vmi>-`), not among `replaced` (uids of pods a restart is replacing)."""

    pattern: re.Pattern[str]
    replaced: frozenset[str] = frozenset()

    @classmethod
    def for_vmi(cls, vmi_name: str, replaced: Iterable[str] = ()) -> PodMatcher:
        base = f"{LAUNCHER_PREFIX}{vmi_name}-"
        if len(base) > _GENERATED_BASE_MAX:
            pattern = re.escape(base[:_GENERATED_BASE_MAX]) + "[a-z0-9]{5}"
        else:
            pattern = re.escape(base) + "[a-z0-9]{5}"
        return cls(re.compile(pattern), frozenset(replaced))

    @classmethod
    def for_replica_set(cls, name: str) -> PodMatcher:
        """The VMIs of a replica set are named after it, so are their pods."""
        return cls(re.compile(re.escape(f"{LAUNCHER_PREFIX}{name}") + "[-a-z0-9.]*"))

    def is_vm_pod(self, target: Mapping[str, Any]) -> bool:
        return (target.get("kind", "Pod") == "Pod" and bool(self.pattern.fullmatch(str(target.get("name", ""))))
                and target.get("uid") not in self.replaced)

    def is_replaced(self, target: Mapping[str, Any]) -> bool:
        return target.get("uid") in self.replaced


@dataclass
class EndpointReport:
    """What the EndpointSlices say about the VM's pods (and others) at one moment."""

    ready: list[str] = field(default_factory=list)
    """`10.244.0.5:80` per ready address and port of the VM's pods."""
    ready_pods: set[str] = field(default_factory=set)
    ready_families: set[str] = field(default_factory=set)
    unready_pods: set[str] = field(default_factory=set)
    other_pods: set[str] = field(default_factory=set)
    """Pods the selector matches that are not the VM's (another VM, another workload)."""

    def complete(self, families: Sequence[str]) -> bool:
        return bool(self.ready_pods) and set(families) <= self.ready_families

    def missing_families(self, families: Sequence[str]) -> list[str]:
        return [family for family in families if family not in self.ready_families]


def evaluate(slices: Iterable[Mapping[str, Any]], matcher: PodMatcher) -> EndpointReport:
    """The report of a set of EndpointSlices (pure)."""
    report = EndpointReport()
    for endpoint_slice in slices:
        family = str(endpoint_slice.get("addressType", ""))
        ports = [p.get("port") for p in endpoint_slice.get("ports") or [] if p.get("port")]
        for endpoint in endpoint_slice.get("endpoints") or []:
            _add_endpoint(report, endpoint, family, ports, matcher)
    report.ready = list(dict.fromkeys(report.ready))
    return report


def _add_endpoint(report: EndpointReport, endpoint: Mapping[str, Any], family: str, ports: Sequence[int],
                  matcher: PodMatcher) -> None:
    target = endpoint.get("targetRef") or {}
    name = str(target.get("name", ""))
    if matcher.is_replaced(target):
        return
    if not matcher.is_vm_pod(target):
        report.other_pods.add(name or ",".join(endpoint.get("addresses") or []))
        return
    # a nil `ready` means unknown, which consumers are to treat as ready (EndpointConditions' docs)
    if (endpoint.get("conditions") or {}).get("ready", True) is False:
        report.unready_pods.add(name)
        return
    report.ready_pods.add(name)
    report.unready_pods.discard(name)
    report.ready_families.add(family)
    for address in endpoint.get("addresses") or []:
        report.ready += [host_port(address, port) for port in ports] or [address]


def wait_for_endpoints(client: Client, namespace: str, service_name: str, matcher: PodMatcher,
                       families: Sequence[str], deadline: Deadline) -> EndpointReport:
    """Watch the Service's EndpointSlices until the VM's pod is ready in every family, or the deadline."""
    path = resource_path("discovery.k8s.io/v1", "endpointslices", namespace=namespace)
    selector = f"{SERVICE_NAME_LABEL}={service_name}"
    if deadline.check_once:
        return evaluate(in_family_order(client.list(path, label_selector=selector).get("items") or [], families),
                        matcher)
    slices: dict[str, Object] = {}
    report = EndpointReport()
    for _event in _watch_state(client, path, deadline, slices, label_selector=selector):
        report = evaluate(in_family_order(slices.values(), families), matcher)
        if report.complete(families):
            break
    return report


def in_family_order(slices: Iterable[Object], families: Sequence[str]) -> list[Object]:
    """The slices in the order of the Service's IP families, so addresses are listed in that order."""
    def rank(endpoint_slice: Object) -> int:
        family = endpoint_slice.get("addressType")
        return families.index(family) if family in families else len(families)

    return sorted(slices, key=rank)


def wait_for_load_balancer(client: Client, namespace: str, service_name: str, deadline: Deadline) -> Object | None:
    """The Service once it has a load-balancer ingress address, or None at the deadline."""
    path = resource_path("v1", "services", namespace=namespace)
    selector = f"metadata.name={service_name}"
    if deadline.check_once:
        items = client.list(path, field_selector=selector).get("items") or []
        return next((item for item in items if ingress(item)), None)
    services: dict[str, Object] = {}
    for _event in _watch_state(client, path, deadline, services, field_selector=selector):
        found = services.get(service_name)
        if found is not None and ingress(found):
            return found
    return None


def ingress(service: Mapping[str, Any]) -> list[str]:
    entries = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [str(e.get("ip") or e.get("hostname")) for e in entries if e.get("ip") or e.get("hostname")]


def _watch_state(client: Client, path: str, deadline: Deadline, state: dict[str, Object], *,
                 label_selector: str | None = None, field_selector: str | None = None) -> Iterator[None]:
    """Keep `state` (name -> object) current from watch events; yields after each change, until the
    deadline. The first watch replays the current objects, so no list is needed."""
    resource_version: str | None = None
    while deadline.remaining() > 0:
        seconds = max(1, math.ceil(deadline.remaining()))
        events = client.watch(path, resource_version=resource_version, label_selector=label_selector,
                              field_selector=field_selector, timeout_seconds=seconds, allow_bookmarks=True)
        try:
            for event in events:
                resource_version = apply_event(state, event) or resource_version
                yield
                if deadline.remaining() <= 0:
                    return
        except ClusterError as error:
            if error.status != 410:
                raise
            resource_version = None  # too old: start again from the current state
            state.clear()
        finally:
            events.close()


def apply_event(state: dict[str, Object], event: Mapping[str, Any]) -> str | None:
    """Bring `state` (name -> object) up to date with one watch event; returns its resourceVersion."""
    obj = event.get("object") or {}
    meta = obj.get("metadata") or {}
    if event.get("type") == "DELETED":
        state.pop(str(meta.get("name")), None)
    elif event.get("type") != "BOOKMARK":
        state[str(meta.get("name"))] = obj
    return meta.get("resourceVersion")
