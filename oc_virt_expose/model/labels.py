"""Label syntax and KubeVirt's label keys: validation as the API server does it, `k=v` parsing, selector
matching; pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from oc_virt_expose.errors import UsageError
from oc_virt_expose.model.kinds import VMI, VMIRS, ResourceKind
from oc_virt_expose.model.objects import name_of

VMI_ID_LABEL = "vmi.kubevirt.io/id"
DOMAIN_LABEL = "kubevirt.io/domain"
CREATED_BY_LABEL = "kubevirt.io/created-by"
"""On every launcher pod: the uid of its VMI (how a VMI's pods are listed)."""

UNSTABLE_KEYS = {
    CREATED_BY_LABEL: "it changes at every restart of the VM",
    "kubevirt.io/migrationJobUID": "it changes at every live migration",
    "kubevirt.io/nodeName": "it changes when the VM moves to another node",
    "kubevirt.io/migrationTargetNodeName": "it changes at every live migration",
    "kubevirt.io/schedulable": "it is a node label reserved by KubeVirt",
    "kubevirt.io/install-strategy": "it is reserved by KubeVirt",
    "kubevirt.io/outdatedLauncherImage": "KubeVirt sets and removes it on updates",
}
"""Keys no Service may select on: their values change, or KubeVirt's webhook reserves them."""

LAUNCHER_SELECTOR = "kubevirt.io=virt-launcher"
"""Selects every launcher pod (KubeVirt writes `kubevirt.io: virt-launcher` on each)."""
LAUNCHER_KEYS = ("kubevirt.io", "vm.kubevirt.io/name", VMI_ID_LABEL)
"""Keys KubeVirt writes on every launcher pod it creates, over any template value: never added by us."""

# patterns, compiled (and cached) by `re` at first use: a usage error compiles only those it needs
_QUALIFIED_NAME = r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
_DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


def vmi_id(name: str) -> str:
    """The value of `vmi.kubevirt.io/id` (KubeVirt pkg/apimachinery CalculateVirtualMachineInstanceID).

    The name itself up to 63 characters; longer: its first 54 characters, '-', 8 hex of sha1(name).
    """
    if len(name) <= 63:
        return name
    import hashlib  # ~5 ms: only for names past 63 characters

    return f"{name[:54]}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def label_key_problem(key: str) -> str | None:
    """Why `key` is not a valid label key (Kubernetes' qualified name), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not re.match(_DNS1123_SUBDOMAIN, prefix)):
        return "its prefix must be a DNS subdomain: lowercase letters, digits, '-' and '.', at most 253"
    if not name or len(name) > 63 or not re.match(_QUALIFIED_NAME, name):
        return (
            "its name must be at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def label_value_problem(value: str) -> str | None:
    """Why `value` is not a valid label value, or None."""
    if value and (len(value) > 63 or not re.match(_QUALIFIED_NAME, value)):
        return (
            "a value must be empty or at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def parse_label_pairs(values: Iterable[str], flag: str) -> dict[str, str]:
    """`k=v[,k=v]` from every use of `flag` (`--selector`, `--labels`), validated as Kubernetes does."""
    labels: dict[str, str] = {}
    for value in values:
        for item in value.split(","):
            key, value_text = _split_pair(item, flag)
            problem = label_key_problem(key) or label_value_problem(value_text)
            if problem:
                raise UsageError(f'invalid {flag} "{item}": {problem}')
            if labels.get(key, value_text) != value_text:
                raise UsageError(f'invalid {flag}: "{key}" is given twice with different values')
            labels[key] = value_text
    return labels


def _split_pair(item: str, flag: str) -> tuple[str, str]:
    text = item.strip()
    if "!=" in text or "==" in text or text.count("=") != 1:
        hint = " (only equality-based key=value selectors are supported)" if flag == "--selector" else ""
        raise UsageError(f'invalid {flag} "{item}": expected key=value{hint}')
    key, _, value = text.partition("=")
    return key, value


def refuse_unstable_keys(selector: Mapping[str, str]) -> None:
    for key in selector:
        if key in UNSTABLE_KEYS:
            raise UsageError(f'cannot select on "{key}": {UNSTABLE_KEYS[key]} (leave it out of --selector)')



def launcher_labels(kind: ResourceKind, target: Mapping[str, Any]) -> dict[str, str]:
    """The labels KubeVirt writes on every launcher pod of a VM or VMI it creates (over any template
    value): `kubevirt.io`, `vmi.kubevirt.io/id`, `vm.kubevirt.io/name` (the hostname)."""
    if kind is VMIRS:
        return {"kubevirt.io": "virt-launcher"}
    spec = target.get("spec") or {}
    vmi_spec = spec if kind is VMI else (spec.get("template") or {}).get("spec") or {}
    object_name = name_of(target)
    hostname = vmi_spec.get("hostname") or object_name.split(".")[0][:63]
    return {"kubevirt.io": "virt-launcher", VMI_ID_LABEL: vmi_id(object_name), "vm.kubevirt.io/name": hostname}


def is_dns1123_label(text: str) -> bool:
    """A namespace's (and most names') syntax: at most 63 lowercase letters, digits and '-'."""
    return len(text) <= 63 and bool(re.match(_DNS1123_LABEL, text))


def format_labels(labels: Mapping[str, str]) -> str:
    """`k=v,k2=v2`, as kubectl prints a selector."""
    return ",".join(f"{key}={value}" for key, value in labels.items())


def label_selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector against labels (an empty selector matches everything)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(_expression_matches(e, labels) for e in selector.get("matchExpressions") or [])


def _expression_matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key = expression.get("key", "")
    operator = expression.get("operator")
    values = expression.get("values") or []
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False
