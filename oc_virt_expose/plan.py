"""The whole plan of one run, made from what was read before any write, so a refused command changes
nothing. Pure: no I/O.

`make_plan` checks that traffic can reach the guest (network.py), completes the ports (ports.py), chooses
the selector and the missing labels (selector.py), builds the Service (service.py), compares it with an
existing one, and decides how a running VM gets its labels under `--restart`:
- auto: live, on the VMI then its launcher pods (no restart); labels the VMI or pods carry with another
  value cannot be fixed live, so only the template changes and the run ends "not serving yet";
- always: the template only, then a restart of the VM, when its pods lack the labels;
- never: the template only; the VM serves after its next restart.
A stopped VM gets only the template label, and is started with `--start`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from oc_virt_expose import network, ports, service
from oc_virt_expose.errors import RefusedError
from oc_virt_expose.kubevirt import own_labels, template_labels
from oc_virt_expose.options import VMI, VMIRS, ExposeOptions, RestartPolicy
from oc_virt_expose.selector import SelectorPlan, choose_selector, vmi_id

Object = dict[str, Any]
_OPTIONAL_SPEC_FIELDS = ("clusterIP", "externalIPs", "loadBalancerIP", "sessionAffinity", "ipFamilyPolicy",
                         "ipFamilies")


class VMAction(str, enum.Enum):
    NONE = "none"
    RESTART = "restart"
    START = "start"


class ServiceAction(str, enum.Enum):
    CREATE = "created"
    UNCHANGED = "unchanged"
    UPDATE = "configured"


@dataclass(frozen=True)
class Observed:
    """What was read: the exposed object, the VM's running VMI and its pods, the Service of that name,
    and the namespace's NetworkPolicies (None: not readable)."""

    target: Object
    vmi: Object | None = None
    pods: Sequence[Object] = ()
    service: Object | None = None
    network_policies: Sequence[Object] | None = None

    @property
    def running(self) -> bool:
        return self.vmi is not None


@dataclass
class Plan:
    selector: SelectorPlan
    ports: list[ports.ServicePort]
    service: Object
    """The Service to create, or the updated existing one (`--overwrite`)."""
    service_action: ServiceAction
    template_labels: dict[str, str] = field(default_factory=dict)
    vmi_labels: dict[str, str] = field(default_factory=dict)
    pod_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    vm_action: VMAction = VMAction.NONE
    pending: str | None = None
    """Why the VM will not serve when the run ends (labels only a restart can give, not allowed)."""
    warnings: list[str] = field(default_factory=list)


def make_plan(options: ExposeOptions, observed: Observed) -> Plan:
    """Everything the run will do, or a RefusedError/UsageError before any write."""
    interface = pod_interface(options, observed.target)
    service_ports = ports.service_ports(
        options.ports or interface.port_specs(), target_port=options.target_port, protocol=options.protocol,
        node_port=options.node_port, port_name=options.port_name, headless=options.headless)
    warnings = network.check_target_ports(interface, service_ports, force=options.force)
    vmi = observed.target if options.resource is VMI else observed.vmi
    selector = choose_selector(options, observed.target, vmi, observed.pods)
    desired = service.build_service(options, observed.target, selector.selector, service_ports)
    service_action, body = service_change(observed.service, desired, overwrite=options.overwrite)
    plan = Plan(selector, service_ports, body, service_action, warnings=warnings + list(selector.warnings))
    _place_labels(plan, options, observed)
    targets = [network.guest_port(interface, port) for port in service_ports]
    plan.warnings += network.network_policy_warnings(
        observed.network_policies or (), future_pod_labels(plan, options, observed), targets)
    return plan


def pod_interface(options: ExposeOptions, target: Mapping[str, Any]) -> network.PodInterface:
    kind = options.resource
    what = f"{kind.kind} {options.name}"
    if kind is VMI:
        return network.find_pod_interface(target.get("spec") or {}, what, "spec")
    template = (target.get("spec") or {}).get("template") or {}
    return network.find_pod_interface(template.get("spec") or {}, what)


def _place_labels(plan: Plan, options: ExposeOptions, observed: Observed) -> None:
    """Which objects get the missing labels, and whether the VM is restarted or started."""
    selector = plan.selector
    if options.resource is VMIRS:
        return
    if options.resource is VMI:
        plan.vmi_labels, plan.pod_labels = dict(selector.vmi_labels), dict(selector.pod_labels)
        return
    plan.template_labels = dict(selector.template_labels)
    if not observed.running:
        plan.vm_action = VMAction.START if options.start else VMAction.NONE
    elif selector.running_vm_lacks_labels:
        _label_running_vm(plan, options.restart)


def _label_running_vm(plan: Plan, restart: RestartPolicy) -> None:
    """How a running VM whose pods lack the selector's labels gets them, under `--restart`."""
    selector = plan.selector
    if restart is RestartPolicy.ALWAYS:
        plan.vm_action = VMAction.RESTART
    elif restart is RestartPolicy.NEVER:
        plan.pending = (f"the running VM's pod lacks {format_labels(selector.selector)} and --restart=never: "
                        "the Service gets an endpoint when the VM next restarts (or re-run without "
                        "--restart=never to label it live)")
    elif selector.live_conflicts:
        plan.pending = ("; ".join(selector.live_conflicts) + ": virt-expose never changes a label you set, "
                        "so only a restart gives the running VM the template's labels; re-run with "
                        "--restart=always to restart it")
    else:
        plan.vmi_labels, plan.pod_labels = dict(selector.vmi_labels), dict(selector.pod_labels)


def future_pod_labels(plan: Plan, options: ExposeOptions, observed: Observed) -> dict[str, str]:
    """The labels the VM's pod will carry after the run (for NetworkPolicy selectors)."""
    if observed.pods and plan.vm_action is not VMAction.RESTART:
        pod = observed.pods[0]
        return {**own_labels(pod), **plan.pod_labels.get(_name(pod), {})}
    if options.resource is VMI:
        labels = {**own_labels(observed.target), **plan.vmi_labels}
    else:
        labels = {**template_labels(observed.target), **plan.template_labels}
    return {**labels, **launcher_labels(options, observed.target)}


def launcher_labels(options: ExposeOptions, target: Mapping[str, Any]) -> dict[str, str]:
    """The labels KubeVirt writes on every launcher pod of a VM or VMI it creates (over any template
    value): `kubevirt.io`, `vmi.kubevirt.io/id`, `vm.kubevirt.io/name` (the hostname)."""
    if options.resource is VMIRS:
        return {"kubevirt.io": "virt-launcher"}
    spec = (target.get("spec") or {})
    vmi_spec = spec if options.resource is VMI else (spec.get("template") or {}).get("spec") or {}
    name = _name(target) or options.name
    hostname = vmi_spec.get("hostname") or name.split(".")[0][:63]
    return {"kubevirt.io": "virt-launcher", "vmi.kubevirt.io/id": vmi_id(name), "vm.kubevirt.io/name": hostname}


def static_selector_problem(plan: Plan, options: ExposeOptions, target: Mapping[str, Any]) -> str | None:
    """For a stopped VM: why its next pod would not match the selector, or None."""
    labels = {**template_labels(target), **plan.template_labels, **launcher_labels(options, target)}
    wrong = {key: value for key, value in plan.selector.selector.items() if labels.get(key) != value}
    return f"the VM's next pod will not carry {format_labels(wrong)}" if wrong else None


# -- the Service ---------------------------------------------------------------------------------------

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
    meta = {k: v for k, v in (existing.get("metadata") or {}).items() if k != "managedFields"}
    wanted_meta = desired.get("metadata") or {}
    meta["labels"] = {**(meta.get("labels") or {}), **(wanted_meta.get("labels") or {})}
    meta["annotations"] = {**(meta.get("annotations") or {}), **(wanted_meta.get("annotations") or {})}
    owners = list(meta.get("ownerReferences") or [])
    owners += [o for o in wanted_meta.get("ownerReferences") or [] if o["uid"] not in {x.get("uid") for x in owners}]
    if owners:
        meta["ownerReferences"] = owners
    spec = {**(existing.get("spec") or {}), **(desired.get("spec") or {})}
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        spec["ports"] = [_keep_node_port(port, (existing.get("spec") or {}).get("ports") or [])
                         for port in spec.get("ports") or []]
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


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


def format_labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in labels.items())


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))
