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
from typing import Any, NamedTuple

from oc_virt_expose.commands.expose.options import ExposeRequest, RestartPolicy
from oc_virt_expose.model import network, ports
from oc_virt_expose.model.fields import TEMPLATE_PATH, labels_to_apply
from oc_virt_expose.model.kinds import VMI, VMIRS
from oc_virt_expose.model.labels import format_labels, launcher_labels
from oc_virt_expose.model.objects import Object, name_of, own_labels, template_labels
from oc_virt_expose.model.selector import SelectorPlan, choose_selector
from oc_virt_expose.model.service import ServiceAction, build_service, service_change, traffic_policy_warnings


class VMAction(str, enum.Enum):
    NONE = "none"
    RESTART = "restart"
    START = "start"


class Observed(NamedTuple):
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


class Plan:
    """What the run will do; `make_plan` fills in the labels and the VM's action after the Service."""

    def __init__(self, selector: SelectorPlan, service_ports: list[ports.ServicePort], service: Object,
                 service_action: ServiceAction, warnings: list[str]) -> None:
        self.selector = selector
        self.ports = service_ports
        self.service = service
        """The Service to create, or the updated existing one (`--overwrite`)."""
        self.service_action = service_action
        self.template_labels: dict[str, str] = {}
        self.vmi_labels: dict[str, str] = {}
        self.pod_labels: dict[str, dict[str, str]] = {}
        self.vm_action = VMAction.NONE
        self.pending: str | None = None
        """Why the VM will not serve when the run ends (labels only a restart can give, not allowed)."""
        self.warnings = warnings


def make_plan(options: ExposeRequest, observed: Observed) -> Plan:
    """Everything the run will do, or a RefusedError/UsageError before any write."""
    interface = pod_interface(options, observed.target)
    requested = options.ports
    service_ports = ports.service_ports(
        requested.specs or interface.port_specs(), target_port=requested.target_port, protocol=requested.protocol,
        node_port=requested.node_port, port_name=requested.port_name, headless=options.service.headless)
    warnings = network.check_target_ports(interface, service_ports, force=options.force)
    vmi = observed.target if options.resource is VMI else observed.vmi
    selector = choose_selector(options.resource, options.selector, observed.target, vmi, observed.pods)
    desired = build_service(options.service, options.resource, observed.target, selector.selector, service_ports)
    service_action, body = service_change(observed.service, desired, overwrite=options.overwrite)
    plan = Plan(selector, service_ports, body, service_action,
                warnings + list(selector.warnings) + traffic_policy_warnings(options.service))
    _place_labels(plan, options, observed)
    targets = [network.guest_port(interface, port) for port in service_ports]
    plan.warnings += network.network_policy_warnings(
        observed.network_policies or (), future_pod_labels(plan, options, observed), targets)
    return plan


def pod_interface(options: ExposeRequest, target: Mapping[str, Any]) -> network.PodInterface:
    kind = options.resource
    what = f"{kind.kind} {options.name}"
    if kind is VMI:
        return network.find_pod_interface(target.get("spec") or {}, what, "spec")
    template = (target.get("spec") or {}).get("template") or {}
    return network.find_pod_interface(template.get("spec") or {}, what)


def _place_labels(plan: Plan, options: ExposeRequest, observed: Observed) -> None:
    """Which objects get the selector's labels, and whether the VM is restarted or started."""
    if options.resource is VMIRS:
        return
    if options.resource is VMI:
        _label_live(plan, options, observed)
        return
    selector = plan.selector
    plan.template_labels = labels_to_apply(observed.target, selector.addable, selector.template_labels,
                                           options.label_manager, TEMPLATE_PATH)
    if not observed.running:
        plan.vm_action = VMAction.START if options.start else VMAction.NONE
    elif selector.running_vm_lacks_labels:
        _label_running_vm(plan, options, observed)


def _label_running_vm(plan: Plan, options: ExposeRequest, observed: Observed) -> None:
    """How a running VM whose pods lack the selector's labels gets them, under `--restart`."""
    selector, restart = plan.selector, options.restart
    if restart is RestartPolicy.ALWAYS:  # a restart's new pod carries the template's labels
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
        _label_live(plan, options, observed)


def _label_live(plan: Plan, options: ExposeRequest, observed: Observed) -> None:
    """The labels applied to the running VMI and its launcher pods (no restart)."""
    selector, manager = plan.selector, options.label_manager
    vmi = observed.target if options.resource is VMI else observed.vmi
    if vmi is not None:
        plan.vmi_labels = labels_to_apply(vmi, selector.addable, selector.vmi_labels, manager)
    for pod in observed.pods:
        labels = labels_to_apply(pod, selector.addable, selector.pod_labels.get(name_of(pod), {}), manager)
        if labels:
            plan.pod_labels[name_of(pod)] = labels


def future_pod_labels(plan: Plan, options: ExposeRequest, observed: Observed) -> dict[str, str]:
    """The labels the VM's pod will carry after the run (for NetworkPolicy selectors)."""
    if observed.pods and plan.vm_action is not VMAction.RESTART:
        pod = observed.pods[0]
        return {**own_labels(pod), **plan.pod_labels.get(name_of(pod), {})}
    if options.resource is VMI:
        labels = {**own_labels(observed.target), **plan.vmi_labels}
    else:
        labels = {**template_labels(observed.target), **plan.template_labels}
    return {**labels, **launcher_labels(options.resource, observed.target)}


def static_selector_problem(plan: Plan, options: ExposeRequest, target: Mapping[str, Any]) -> str | None:
    """For a stopped VM: why its next pod would not match the selector, or None."""
    labels = {**template_labels(target), **plan.template_labels, **launcher_labels(options.resource, target)}
    wrong = {key: value for key, value in plan.selector.selector.items() if labels.get(key) != value}
    return f"the VM's next pod will not carry {format_labels(wrong)}" if wrong else None
