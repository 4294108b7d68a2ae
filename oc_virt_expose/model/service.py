"""The Service manifest, built from a request with no I/O (as kubectl's `createService`), and how it
compares with a Service that exists already.

What virt-expose records on every Service it makes, under one prefix, `virt-expose.kubevirt.io/`:
- the label `virt-expose.kubevirt.io/<vm|vmi|vmirs>: <object name>` (the name hashed past 63 characters
  as KubeVirt's `vmi.kubevirt.io/id`), so `-l virt-expose.kubevirt.io/vm=example-vm` finds the Services
  of a VM and `-l virt-expose.kubevirt.io/vm` all Services virt-expose made for VMs;
- the annotation `virt-expose.kubevirt.io/exposes: virtualmachine.kubevirt.io/<name>`, the exact object;
- an owner reference to that object (apiVersion kubevirt.io/v1, kind, name, uid), so deleting the VM
  deletes its Services. Neither `controller` nor `blockOwnerDeletion` is set: the VM does not control
  the Service (no controller reference that would keep another controller from adopting it), and
  `blockOwnerDeletion: true` needs permission on the VM's finalizers, which a user who may only edit
  the VM does not have (virtctl v1.9 sets `blockOwnerDeletion: false` for the same reason).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from oc_virt_expose.errors import RefusedError, UsageError
from oc_virt_expose.model.kinds import ResourceKind
from oc_virt_expose.model.labels import format_labels, vmi_id
from oc_virt_expose.model.objects import Object
from oc_virt_expose.model.ports import ServicePort

LABEL_PREFIX = "virt-expose.kubevirt.io"
EXPOSES_ANNOTATION = f"{LABEL_PREFIX}/exposes"
DNS1035_MAX_LENGTH = 63

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
SESSION_AFFINITIES = ("None", "ClientIP")
IP_FAMILY_POLICIES = ("SingleStack", "PreferDualStack", "RequireDualStack")
IP_FAMILIES = ("IPv4", "IPv6")
EXTERNAL_TRAFFIC_POLICIES = ("Cluster", "Local")
_OPTIONAL_SPEC_FIELDS = ("clusterIP", "externalIPs", "loadBalancerIP", "sessionAffinity", "ipFamilyPolicy",
                         "ipFamilies", "externalTrafficPolicy")
LOAD_BALANCER_PROVIDER_HINT = "on-premises clusters need a load-balancer provider such as MetalLB"
LOAD_BALANCER_PENDING = (f"no load-balancer address yet: {LOAD_BALANCER_PROVIDER_HINT} (the Service still serves "
                         "on its cluster IP and node ports)")
# patterns, compiled (and cached) by `re` at first use: a usage error compiles only those it needs
_DNS1035_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"


class ServiceRequest(NamedTuple):
    """What the user asked of the Service itself (`--name`, `--type`, ...); ports come apart, completed
    against the VM (`ports.service_ports`)."""

    name: str
    type: str = "ClusterIP"
    cluster_ip: str | None = None
    external_ips: Sequence[str] = ()
    load_balancer_ip: str | None = None
    session_affinity: str | None = None
    ip_family_policy: str | None = None
    ip_families: Sequence[str] = ()
    labels: Mapping[str, str] | None = None
    """The Service's labels; None: the exposed object's own labels are copied, as kubectl does."""
    external_traffic_policy: str | None = None
    """Cluster or Local (NodePort and LoadBalancer only); None: the server's default, Cluster."""

    @property
    def headless(self) -> bool:
        return self.cluster_ip == "None"


class ServiceAction(str, enum.Enum):
    CREATE = "created"
    UNCHANGED = "unchanged"
    UPDATE = "configured"


def exposed_by_label(kind_short: str) -> str:
    """`virt-expose.kubevirt.io/vm`: the label key naming the object a Service exposes."""
    return f"{LABEL_PREFIX}/{kind_short}"


def default_service_name(object_name: str) -> str:
    """The object's name cut to 63 characters, as `kubectl expose` does."""
    return object_name[:DNS1035_MAX_LENGTH]


def validate_service_name(name: str, *, given: bool) -> None:
    """A Service name is a DNS-1035 label; `given`: from `--name` (else defaulted from the object)."""
    if len(name) <= DNS1035_MAX_LENGTH and re.match(_DNS1035_LABEL, name):
        return
    rule = (
        "a Service name is at most 63 lowercase letters, digits and '-', starting with a letter "
        "and ending with a letter or digit"
    )
    if given:
        raise UsageError(f'invalid --name "{name}": {rule}')
    raise UsageError(f'the Service name would be "{name}", from the object\'s name, but {rule}: give --name')


def build_service(
    request: ServiceRequest,
    kind: ResourceKind,
    target: Mapping[str, Any],
    selector: Mapping[str, str],
    ports: Sequence[ServicePort],
) -> Object:
    """The Service manifest for `target` (a `kind` as read), ready to send.

    Labels: `request.labels`, else a copy of the target's own labels, plus virt-expose's label.
    """
    meta = target.get("metadata") or {}
    object_name = str(meta.get("name", ""))
    labels = dict(request.labels if request.labels is not None else meta.get("labels") or {})
    labels[exposed_by_label(kind.short)] = vmi_id(object_name)
    metadata: dict[str, Any] = {"name": request.name}
    if meta.get("namespace"):
        metadata["namespace"] = meta["namespace"]
    metadata["labels"] = labels
    metadata["annotations"] = {EXPOSES_ANNOTATION: f"{kind.qualified}/{object_name}"}
    if meta.get("uid"):
        metadata["ownerReferences"] = [
            {"apiVersion": kind.api_version, "kind": kind.kind, "name": object_name, "uid": meta["uid"]}
        ]
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": service_spec(request, selector, ports)}


def service_spec(
    request: ServiceRequest, selector: Mapping[str, str], ports: Sequence[ServicePort]
) -> dict[str, Any]:
    """`spec` of the Service: only the fields the flags set, so the server defaults the rest."""
    spec: dict[str, Any] = {"type": request.type, "selector": dict(selector)}
    if ports:
        spec["ports"] = [port.manifest() for port in ports]
    optional_fields = (
        ("clusterIP", request.cluster_ip),
        ("externalIPs", list(request.external_ips)),
        ("loadBalancerIP", request.load_balancer_ip),
        ("sessionAffinity", request.session_affinity),
        ("ipFamilyPolicy", request.ip_family_policy),
        ("ipFamilies", list(request.ip_families)),
        ("externalTrafficPolicy", request.external_traffic_policy),
    )
    for key, value in optional_fields:
        if value:
            spec[key] = value
    return spec


def traffic_policy_warnings(request: ServiceRequest) -> list[str]:
    """`Local` keeps the client's address by sending node-port traffic only to the node running the VM: when
    the VM live-migrates, its pod moves to another node and connections through the old one drop."""
    if request.external_traffic_policy != "Local":
        return []
    return ["--external-traffic-policy Local: only the node running the VM answers on the node port (or for the "
            "load balancer); a live migration moves the VM to another node, and traffic through the old one is "
            "dropped until clients (or the load balancer's health check) follow it"]


def service_change(existing: Mapping[str, Any] | None, desired: Object, *,
                   overwrite: bool) -> tuple[ServiceAction, Object]:
    """Create, leave (identical) or update (`--overwrite`) the Service; a different one is refused."""
    if existing is None:
        return ServiceAction.CREATE, desired
    differences = service_differences(existing, desired)
    if not differences:
        return ServiceAction.UNCHANGED, dict(existing)
    if not overwrite:
        name = desired["metadata"]["name"]
        raise RefusedError(f'service "{name}" already exists and differs: {"; ".join(differences)}; '
                           "pass --overwrite to update it in place, or --name to create another")
    return ServiceAction.UPDATE, overwritten_service(existing, desired)


def service_differences(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    """How the existing Service differs in what virt-expose sets (server defaults are ignored)."""
    have, want = existing.get("spec") or {}, desired.get("spec") or {}
    differences = []
    if have.get("type", "ClusterIP") != want.get("type", "ClusterIP"):
        differences.append(f"spec.type is {have.get('type', 'ClusterIP')}, not {want.get('type')}")
    if (have.get("selector") or {}) != (want.get("selector") or {}):
        differences.append(f"spec.selector is {format_labels(have.get('selector') or {}) or 'empty'}, "
                           f"not {format_labels(want.get('selector') or {})}")
    if not _ports_match(have.get("ports") or [], want.get("ports") or []):
        differences.append(f"spec.ports are {_format_ports(have.get('ports') or [])}, "
                           f"not {_format_ports(want.get('ports') or [])}")
    for key in _OPTIONAL_SPEC_FIELDS:
        if want.get(key) and have.get(key) != want[key]:
            differences.append(f"spec.{key} is {have.get(key)}, not {want[key]}")
    return differences


def overwritten_service(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> Object:
    """The existing Service updated in place: our spec fields over its own (so allocated cluster IPs
    stay), its node ports kept where we ask for none, our labels, annotation and owner added."""
    meta = overwritten_metadata(existing, desired)
    spec = {**(existing.get("spec") or {}), **(desired.get("spec") or {})}
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        spec["ports"] = [_keep_node_port(port, (existing.get("spec") or {}).get("ports") or [])
                         for port in spec.get("ports") or []]
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def overwritten_metadata(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The existing object's metadata (its resourceVersion too, so a concurrent change is a conflict) with our
    labels, annotations and owner reference added."""
    meta = {k: v for k, v in (existing.get("metadata") or {}).items() if k != "managedFields"}
    wanted_meta = desired.get("metadata") or {}
    meta["labels"] = {**(meta.get("labels") or {}), **(wanted_meta.get("labels") or {})}
    meta["annotations"] = {**(meta.get("annotations") or {}), **(wanted_meta.get("annotations") or {})}
    owners = list(meta.get("ownerReferences") or [])
    owners += [o for o in wanted_meta.get("ownerReferences") or [] if o["uid"] not in {x.get("uid") for x in owners}]
    if owners:
        meta["ownerReferences"] = owners
    return meta


def _keep_node_port(port: Mapping[str, Any], old_ports: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if port.get("nodePort"):
        return dict(port)
    for old in old_ports:
        if old.get("port") == port.get("port") and old.get("protocol", "TCP") == port.get("protocol") \
                and old.get("nodePort"):
            return {**port, "nodePort": old["nodePort"]}
    return dict(port)


def _ports_match(have: Sequence[Mapping[str, Any]], want: Sequence[Mapping[str, Any]]) -> bool:
    if len(have) != len(want):
        return False
    return all(_port_key(h, bool(w.get("nodePort"))) == _port_key(w, bool(w.get("nodePort")))
               for h, w in zip(have, want))


def _port_key(port: Mapping[str, Any], with_node_port: bool) -> tuple[Any, ...]:
    target = port.get("targetPort", port.get("port"))
    return (port.get("name") or None, port.get("protocol", "TCP"), port.get("port"), target,
            port.get("nodePort") if with_node_port else None)


def _format_ports(entries: Sequence[Mapping[str, Any]]) -> str:
    def one(port: Mapping[str, Any]) -> str:
        name = f"{port['name']} " if port.get("name") else ""
        node = f" (node port {port['nodePort']})" if port.get("nodePort") else ""
        return f"{name}{port.get('port')}/{port.get('protocol', 'TCP')}->{port.get('targetPort')}{node}"

    return ", ".join(one(port) for port in entries) or "none"
