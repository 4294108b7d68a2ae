"""The Service manifest, built from the options with no I/O (as kubectl's `createService`).

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

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from oc_virt_expose.errors import UsageError
from oc_virt_expose.ports import ServicePort
from oc_virt_expose.selector import vmi_id

if TYPE_CHECKING:
    from oc_virt_expose.options import ExposeOptions

LABEL_PREFIX = "virt-expose.kubevirt.io"
EXPOSES_ANNOTATION = f"{LABEL_PREFIX}/exposes"
DNS1035_MAX_LENGTH = 63

# patterns, compiled (and cached) by `re` at first use: a usage error compiles only those it needs
_DNS1035_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
_DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def exposed_by_label(kind_short: str) -> str:
    """`virt-expose.kubevirt.io/vm`: the label key naming the object a Service exposes."""
    return f"{LABEL_PREFIX}/{kind_short}"


def default_service_name(object_name: str) -> str:
    """The object's name cut to 63 characters, as `kubectl expose` does."""
    return object_name[:DNS1035_MAX_LENGTH]


def is_dns1123_label(text: str) -> bool:
    return len(text) <= 63 and bool(re.match(_DNS1123_LABEL, text))


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
    options: ExposeOptions,
    target: Mapping[str, Any],
    selector: Mapping[str, str],
    ports: Sequence[ServicePort],
) -> dict[str, Any]:
    """The Service manifest for `target` (the VM, VMI or VMIRS as read), ready to send.

    Labels: `options.labels`, else a copy of the target's own labels, plus virt-expose's label.
    """
    meta = target.get("metadata") or {}
    object_name = str(meta.get("name", options.name))
    kind = options.resource
    labels = dict(options.labels if options.labels is not None else meta.get("labels") or {})
    labels[exposed_by_label(kind.short)] = vmi_id(object_name)
    metadata: dict[str, Any] = {"name": options.service_name}
    if meta.get("namespace"):
        metadata["namespace"] = meta["namespace"]
    metadata["labels"] = labels
    metadata["annotations"] = {EXPOSES_ANNOTATION: f"{kind.qualified}/{object_name}"}
    if meta.get("uid"):
        metadata["ownerReferences"] = [
            {"apiVersion": kind.api_version, "kind": kind.kind, "name": object_name, "uid": meta["uid"]}
        ]
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": service_spec(options, selector, ports)}


def service_spec(
    options: ExposeOptions, selector: Mapping[str, str], ports: Sequence[ServicePort]
) -> dict[str, Any]:
    """`spec` of the Service: only the fields the flags set, so the server defaults the rest."""
    spec: dict[str, Any] = {"type": options.service_type, "selector": dict(selector)}
    if ports:
        spec["ports"] = [port.manifest() for port in ports]
    optional_fields = (
        ("clusterIP", options.cluster_ip),
        ("externalIPs", list(options.external_ips)),
        ("loadBalancerIP", options.load_balancer_ip),
        ("sessionAffinity", options.session_affinity),
        ("ipFamilyPolicy", options.ip_family_policy),
        ("ipFamilies", list(options.ip_families)),
    )
    for key, value in optional_fields:
        if value:
            spec[key] = value
    return spec
