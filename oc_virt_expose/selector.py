"""Label syntax and the choice of the Service's selector (issue 6, "Choose the selector"). Pure.

`choose_selector` decides, from what was read (the object, its running VMI and launcher pods), which
selector the Service gets and which labels are missing where:
1. `--selector` when given;
2. else `vmi.kubevirt.io/id` when every launcher pod of the running VM carries it (KubeVirt 1.7+ pods;
   older pods lack it, so the pods' actual labels decide, never a version guess): nothing changes;
3. else the template label `kubevirt.io/domain: <name>` (reused with its value when already there).
For a vmirs: its `selector.matchLabels` (matchExpressions refused, as virtctl does).

A user's label is never removed or changed: a different value of a selector key on the template is an
error (whatever `--overwrite` says: `--overwrite` is about the Service); on the running VMI or its pods it
is a `live_conflicts` entry, which a restart (`--restart=always`) resolves from the template (for a `vmi`
target, which has no template to restart from, an error).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from oc_virt_expose.errors import RefusedError, UsageError

if TYPE_CHECKING:
    from oc_virt_expose.options import ExposeOptions

VMI_ID_LABEL = "vmi.kubevirt.io/id"
DOMAIN_LABEL = "kubevirt.io/domain"

UNSTABLE_KEYS = {
    "kubevirt.io/created-by": "it changes at every restart of the VM",
    "kubevirt.io/migrationJobUID": "it changes at every live migration",
    "kubevirt.io/nodeName": "it changes when the VM moves to another node",
    "kubevirt.io/migrationTargetNodeName": "it changes at every live migration",
    "kubevirt.io/schedulable": "it is a node label reserved by KubeVirt",
    "kubevirt.io/install-strategy": "it is reserved by KubeVirt",
    "kubevirt.io/outdatedLauncherImage": "KubeVirt sets and removes it on updates",
}
"""Keys no Service may select on: their values change, or KubeVirt's webhook reserves them."""

LAUNCHER_KEYS = ("kubevirt.io", "vm.kubevirt.io/name", VMI_ID_LABEL)
"""Keys KubeVirt writes on every launcher pod it creates, over any template value: never added by us."""

# patterns, compiled (and cached) by `re` at first use: a usage error compiles only those it needs
_QUALIFIED_NAME = r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
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
            raise UsageError(f'cannot select on "{key}": {UNSTABLE_KEYS[key]}')


_NOTHING: Mapping[str, Any] = MappingProxyType({})


class SelectorPlan(NamedTuple):
    """The selector and what must change so that it selects the VM, never removing a user's label."""

    selector: dict[str, str]
    source: str
    """Why this selector, for messages: "--selector", "launcher pod label vmi.kubevirt.io/id", ..."""
    template_labels: Mapping[str, str] = _NOTHING
    """To add to the VM's `spec.template.metadata.labels` (survives restarts)."""
    vmi_labels: Mapping[str, str] = _NOTHING
    """To add to the running VMI's labels (survives live migration)."""
    pod_labels: Mapping[str, dict[str, str]] = _NOTHING
    """Launcher pod name -> labels to add to it (serves now, with no restart)."""
    live_conflicts: tuple[str, ...] = ()
    """Labels the running VMI or pods carry with another value: only a restart can fix those."""
    warnings: tuple[str, ...] = ()

    @property
    def changes_nothing(self) -> bool:
        return not (self.template_labels or self.vmi_labels or self.pod_labels)

    @property
    def running_vm_lacks_labels(self) -> bool:
        """The running VM's VMI or pods miss selector labels (label them live, or restart)."""
        return bool(self.vmi_labels or self.pod_labels or self.live_conflicts)


def choose_selector(
    options: ExposeOptions,
    target: Mapping[str, Any],
    vmi: Mapping[str, Any] | None = None,
    pods: Sequence[Mapping[str, Any]] = (),
) -> SelectorPlan:
    """The selector for `target` (a VM, VMI or VMIRS as read) and the labels it needs.

    `vmi`: the VM's running VMI, or None when stopped (for a `vmi` target it is the target itself);
    `pods`: the launcher pods of that VMI (`kubevirt.io/created-by=<vmi uid>`); finished ones are ignored.
    """
    kind = options.resource.short
    if kind == "vmirs":
        return _replica_set_plan(target, options.selector)
    if kind == "vmi":
        vmi = target
    active_pods = [pod for pod in pods if not _finished(pod)]
    name = _name(target)
    template = _labels(target, "spec", "template", "metadata") if kind == "vm" else None
    if options.selector:
        refuse_unstable_keys(options.selector)
        return _plan(options.selector, "--selector", template, vmi, active_pods)
    pod_id = _shared_pod_label(active_pods, VMI_ID_LABEL) if vmi is not None else None
    if pod_id is not None:
        return SelectorPlan({VMI_ID_LABEL: pod_id}, f"launcher pod label {VMI_ID_LABEL}")
    own_labels = template if template is not None else _labels(target, "metadata")
    domain = own_labels[DOMAIN_LABEL] if DOMAIN_LABEL in own_labels else vmi_id(name)
    return _plan({DOMAIN_LABEL: domain}, f"label {DOMAIN_LABEL}", template, vmi, active_pods)


def _plan(
    selector: dict[str, str],
    source: str,
    template: dict[str, str] | None,
    vmi: Mapping[str, Any] | None,
    pods: Sequence[Mapping[str, Any]],
) -> SelectorPlan:
    """What is missing where: the VM template (`template`, None for a VMI), the running VMI and pods."""
    addable = {k: v for k, v in selector.items() if k not in LAUNCHER_KEYS}
    template_labels: dict[str, str] = {}
    if template is not None:
        refused: list[str] = []
        template_labels = _missing(addable, template, "the VM template", refused)
        if refused:
            raise RefusedError(
                f"{refused[0]}: virt-expose never changes a label you set; choose another --selector "
                "or change the label yourself"
            )
    live = _LiveChanges()
    if vmi is not None:
        live.collect(addable, selector, vmi, pods)
    if template is None and live.conflicts:  # a VMI has no template to restart from
        raise RefusedError("; ".join(live.conflicts) + ": virt-expose never changes a label you set")
    return SelectorPlan(dict(selector), source, template_labels, live.vmi_labels, live.pod_labels,
                        tuple(live.conflicts), tuple(live.warnings))


class _LiveChanges:
    """What the running VMI and its pods lack of the selector."""

    def __init__(self) -> None:
        self.vmi_labels: dict[str, str] = {}
        self.pod_labels: dict[str, dict[str, str]] = {}
        self.conflicts: list[str] = []
        self.warnings: list[str] = []

    def collect(
        self,
        addable: Mapping[str, str],
        selector: Mapping[str, str],
        vmi: Mapping[str, Any],
        pods: Sequence[Mapping[str, Any]],
    ) -> None:
        self.vmi_labels = _missing(addable, _labels(vmi, "metadata"), f"VMI {_name(vmi)}", self.conflicts)
        for pod in pods:
            found = _labels(pod, "metadata")
            missing = _missing(addable, found, f"pod {_name(pod)}", self.conflicts)
            if missing:
                self.pod_labels[_name(pod)] = missing
            self.warnings.extend(
                f"pod {_name(pod)} lacks {key}, which KubeVirt sets only on pods it creates: "
                "the Service selects this pod only after the VM restarts"
                for key, value in selector.items()
                if key in LAUNCHER_KEYS and found.get(key) != value
            )


def _missing(
    wanted: Mapping[str, str], present: Mapping[str, str], where: str, conflicts: list[str]
) -> dict[str, str]:
    missing = {}
    for key, value in wanted.items():
        if key not in present:
            missing[key] = value
        elif present[key] != value:
            conflicts.append(f"{where} has {key}={present[key]}, not {key}={value}")
    return missing


def _replica_set_plan(target: Mapping[str, Any], requested: dict[str, str] | None) -> SelectorPlan:
    selector = (target.get("spec") or {}).get("selector") or {}
    if selector.get("matchExpressions"):
        raise RefusedError(
            "cannot expose VirtualMachineInstanceReplicaSet with match expressions: "
            "a Service selects by labels only"
        )
    if requested:
        refuse_unstable_keys(requested)
        template = _labels(target, "spec", "template", "metadata")
        absent = {k: v for k, v in requested.items() if template.get(k) != v}
        if absent:
            listed = ",".join(f"{k}={v}" for k, v in absent.items())
            raise RefusedError(
                f"the replica set's template does not carry {listed}: its running VMIs would not be "
                "selected; leave --selector out to use the replica set's own selector"
            )
        return SelectorPlan(dict(requested), "--selector")
    match_labels = dict(selector.get("matchLabels") or {})
    if not match_labels:
        raise RefusedError("cannot expose VirtualMachineInstanceReplicaSet without any selector labels")
    return SelectorPlan(match_labels, "the replica set's selector")


def _shared_pod_label(pods: Sequence[Mapping[str, Any]], key: str) -> str | None:
    """The value of `key` when every pod carries it with one value, else None."""
    values = {_labels(pod, "metadata").get(key) for pod in pods}
    if len(values) != 1:
        return None
    return values.pop()


def _finished(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _labels(obj: Mapping[str, Any], *path: str) -> dict[str, str]:
    node: Any = obj
    for step in path:
        node = (node or {}).get(step)
    return dict((node or {}).get("labels") or {})
