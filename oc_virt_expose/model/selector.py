"""The choice of the Service's selector and of the labels missing where (issue 6, "Choose the selector"). Pure.

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

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from oc_virt_expose.errors import RefusedError
from oc_virt_expose.model.kinds import VM, VMI, VMIRS, ResourceKind
from oc_virt_expose.model.labels import DOMAIN_LABEL, LAUNCHER_KEYS, VMI_ID_LABEL, refuse_unstable_keys, vmi_id
from oc_virt_expose.model.objects import is_finishing, name_of, own_labels, template_labels

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
    addable: Mapping[str, str] = _NOTHING
    """The selector's labels virt-expose may add (not those KubeVirt writes on every launcher pod)."""
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
    kind: ResourceKind,
    requested: Mapping[str, str] | None,
    target: Mapping[str, Any],
    vmi: Mapping[str, Any] | None = None,
    pods: Sequence[Mapping[str, Any]] = (),
) -> SelectorPlan:
    """The selector for `target` (a `kind` as read; `requested`: `--selector`) and the labels it needs.

    `vmi`: the VM's running VMI, or None when stopped (for a `vmi` target it is the target itself);
    `pods`: the launcher pods of that VMI (`kubevirt.io/created-by=<vmi uid>`); finished ones are ignored.
    """
    if kind is VMIRS:
        return _replica_set_plan(target, requested)
    if kind is VMI:
        vmi = target
    active_pods = [pod for pod in pods if not is_finishing(pod)]
    template = template_labels(target) if kind is VM else None
    if requested:
        refuse_unstable_keys(requested)
        return _plan(dict(requested), "--selector", template, vmi, active_pods)
    pod_id = _shared_pod_label(active_pods, VMI_ID_LABEL) if vmi is not None else None
    if pod_id is not None:
        return SelectorPlan({VMI_ID_LABEL: pod_id}, f"launcher pod label {VMI_ID_LABEL}")
    labels = template if template is not None else own_labels(target)
    domain = labels[DOMAIN_LABEL] if DOMAIN_LABEL in labels else vmi_id(name_of(target))
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
    return SelectorPlan(dict(selector), source, template_labels, live.vmi_labels, live.pod_labels, addable,
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
        self.vmi_labels = _missing(addable, own_labels(vmi), f"VMI {name_of(vmi)}", self.conflicts)
        for pod in pods:
            found = own_labels(pod)
            missing = _missing(addable, found, f"pod {name_of(pod)}", self.conflicts)
            if missing:
                self.pod_labels[name_of(pod)] = missing
            self.warnings.extend(
                f"pod {name_of(pod)} lacks {key}, which KubeVirt sets only on pods it creates: "
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


def _replica_set_plan(target: Mapping[str, Any], requested: Mapping[str, str] | None) -> SelectorPlan:
    selector = (target.get("spec") or {}).get("selector") or {}
    if selector.get("matchExpressions"):
        raise RefusedError(
            "cannot expose VirtualMachineInstanceReplicaSet with match expressions: "
            "a Service selects by labels only"
        )
    if requested:
        refuse_unstable_keys(requested)
        template = template_labels(target)
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
    values = {own_labels(pod).get(key) for pod in pods}
    if len(values) != 1:
        return None
    return values.pop()
