"""Which endpoints of a Service's EndpointSlices are the exposed VM's, and are they ready; pure.

A VM's pods are its launcher pods, named after its VMI by KubeVirt's generateName `virt-launcher-<vmi>-`;
endpoints of other pods show that the selector also matches other workloads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from oc_virt_expose.model.objects import Object, host_port

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
"""On every EndpointSlice: the name of its Service."""
LAUNCHER_PREFIX = "virt-launcher-"
_GENERATED_BASE_MAX = 58  # the API server cuts a generateName to 58 characters, then adds 5 random ones


class PodMatcher(NamedTuple):
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


class EndpointWait(NamedTuple):
    """What verification waits for in one Service's EndpointSlices: a ready endpoint on `matcher`'s pods
    in each of `families`."""

    matcher: PodMatcher
    families: Sequence[str]


class EndpointReport:
    """What the EndpointSlices say about the VM's pods (and others) at one moment (filled in by `evaluate`)."""

    def __init__(self) -> None:
        self.ready: list[str] = []
        """`10.244.0.5:80` per ready address and port of the VM's pods."""
        self.ready_pods: set[str] = set()
        self.ready_families: set[str] = set()
        self.unready_pods: set[str] = set()
        self.other_pods: set[str] = set()
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


def in_family_order(slices: Iterable[Object], families: Sequence[str]) -> list[Object]:
    """The slices in the order of the Service's IP families, so addresses are listed in that order."""
    def rank(endpoint_slice: Object) -> int:
        family = endpoint_slice.get("addressType")
        return families.index(family) if family in families else len(families)

    return sorted(slices, key=rank)


def ingress(service: Mapping[str, Any]) -> list[str]:
    entries = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [str(e.get("ip") or e.get("hostname")) for e in entries if e.get("ip") or e.get("hostname")]
