"""Can traffic reach the guest at all? Pure checks on the VM's network spec and the NetworkPolicies.

Facts (KubeVirt v1.7.0):
- A Service sends traffic to pod IPs, which reach a VM only through an interface on the pod network:
  declared (`spec.networks[].pod`) or attached by KubeVirt when the spec declares no networks and no
  interfaces and `domain.devices.autoattachPodInterface` is not false (pkg/network/vmispec/defaults.go;
  the cluster's default binding, masquerade unless configured otherwise, with no declared ports).
- With the masquerade binding and ports declared on that interface, only those ports and protocols are
  forwarded to the guest (pkg/network/setup/netpod/masquerade/masquerade.go; protocol defaults to TCP);
  without declared ports, every port is. Other bindings (bridge, passt, plugins) are not checked here.
- A named target port is resolved by Kubernetes against the launcher pod's container ports, which
  KubeVirt builds from the interfaces' declared ports (name, port, protocol): so a named `--target-port`
  must be a port name declared on the pod-network interface, with the Service port's protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from oc_virt_expose.errors import RefusedError
from oc_virt_expose.model.labels import label_selector_matches
from oc_virt_expose.model.ports import PortSpec, ServicePort

BINDINGS = ("masquerade", "bridge", "passt", "sriov", "macvtap", "slirp")


class DeclaredPort(NamedTuple):
    port: int
    protocol: str
    name: str | None = None

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol}" + (f" ({self.name})" if self.name else "")


class PodInterface(NamedTuple):
    """The VM's interface on the pod network, as far as forwarding is concerned."""

    name: str
    binding: str
    """`masquerade`, `bridge`, ..., `plugin <name>` for a binding plugin, `unspecified`."""
    ports: tuple[DeclaredPort, ...] = ()
    auto_attached: bool = False
    ports_path: str = "spec.template.spec.domain.devices.interfaces"
    """Where the interface is declared, for messages (`spec.domain.devices.interfaces` for a VMI)."""

    @property
    def forwards_every_port(self) -> bool:
        return self.binding != "masquerade" or not self.ports

    def port_specs(self) -> list[PortSpec]:
        """The declared ports as the Service's ports when `--port` is not given (as virtctl does)."""
        return [PortSpec(port=d.port, target=d.port, protocol=d.protocol, name=d.name) for d in self.ports]


class GuestPort(NamedTuple):
    """A Service's target as the guest sees it: the resolved number (None if unresolved) and name."""

    number: int | None
    protocol: str
    name: str | None = None

    def __str__(self) -> str:
        return f"{self.number if self.number is not None else self.name}/{self.protocol}"


def find_pod_interface(
    vmi_spec: Mapping[str, Any], what: str, spec_path: str = "spec.template.spec"
) -> PodInterface:
    """The pod-network interface of a VMI spec (a VM's `spec.template.spec`), or a refusal saying why.

    `what` names the object in messages ("VM example-vm").
    """
    networks = vmi_spec.get("networks") or []
    devices = (vmi_spec.get("domain") or {}).get("devices") or {}
    interfaces = devices.get("interfaces") or []
    ports_path = f"{spec_path}.domain.devices.interfaces"
    if not networks and not interfaces:
        if devices.get("autoattachPodInterface") is False:
            raise RefusedError(
                f"{what} has no network interface (autoattachPodInterface: false): a Service sends "
                "traffic to the pod network, so add an interface on it (networks: [{name: default, "
                "pod: {}}], interfaces: [{name: default, masquerade: {}}]) and restart the VM"
            )
        return PodInterface("default", "masquerade", auto_attached=True, ports_path=ports_path)
    pod_network = next((net for net in networks if "pod" in net), None)
    if pod_network is None:
        listed = ", ".join(_describe_network(net) for net in networks) or "none"
        raise RefusedError(
            f"{what} has no interface on the pod network (its networks: {listed}): a Service sends "
            "traffic to the pod's IP, which reaches a VM only through an interface on the pod "
            "network; add one (networks: [{name: default, pod: {}}], interfaces: [{name: default, "
            "masquerade: {}}]) and restart the VM, or reach the VM on its secondary network directly"
        )
    name = str(pod_network.get("name", ""))
    interface: Mapping[str, Any] = next((i for i in interfaces if i.get("name") == name), {})
    return PodInterface(
        name=name,
        binding=_binding(interface),
        ports=tuple(_declared_ports(interface)),
        ports_path=ports_path,
    )


def guest_port(interface: PodInterface, port: ServicePort) -> GuestPort:
    """Resolve the Service port's target against the interface's declared port names."""
    target = port.target_port
    if isinstance(target, int):
        return GuestPort(target, port.protocol)
    for declared in interface.ports:
        if declared.name == target and declared.protocol == port.protocol:
            return GuestPort(declared.port, port.protocol, target)
    return GuestPort(None, port.protocol, target)


def check_target_ports(
    interface: PodInterface, ports: Sequence[ServicePort], *, force: bool = False
) -> list[str]:
    """Refuse targets the guest never receives (or return them as warnings with `force`)."""
    found = (_target_problem(interface, guest_port(interface, port)) for port in ports)
    problems = list(dict.fromkeys(problem for problem in found if problem))  # one port on two protocols: once
    if problems and not force:
        raise RefusedError("; ".join(problems) + "; or pass --force to create the Service anyway")
    return problems


def _target_problem(interface: PodInterface, target: GuestPort) -> str | None:
    where = f'{interface.ports_path}[name={interface.name}].ports'
    if target.number is None:
        return (
            f'target port "{target.name}" ({target.protocol}) is not a port name declared on the '
            f'pod-network interface "{interface.name}": a named target port is resolved against the '
            f"launcher pod's container ports, which KubeVirt makes from the ports declared in {where}; "
            f"declare {{name: {target.name}, port: N, protocol: {target.protocol}}} there, or give "
            "--target-port a number"
        )
    if interface.forwards_every_port:
        return None
    if any(d.port == target.number and d.protocol == target.protocol for d in interface.ports):
        return None
    declared = ", ".join(str(d) for d in interface.ports)
    return (
        f'the pod-network interface "{interface.name}" (masquerade) forwards only {declared} to the '
        f"guest, so a Service to port {target} would show ready endpoints and drop every packet; "
        f"add {{port: {target.number}, protocol: {target.protocol}}} to {where} and restart the VM"
    )


def network_policy_warnings(
    policies: Sequence[Mapping[str, Any]],
    pod_labels: Mapping[str, str],
    target_ports: Sequence[GuestPort],
) -> list[str]:
    """One warning per target port that the NetworkPolicies selecting the pod admit no ingress on.

    `policies`: the NetworkPolicies of the VM's namespace; `pod_labels`: the launcher pod's labels
    (after virt-expose's changes). A port is admitted when some ingress rule of some policy selecting
    the pod allows it from any source; no policy isolating the pod's ingress: every port is admitted.
    """
    isolating = [
        policy
        for policy in policies
        if _isolates_ingress(policy)
        and label_selector_matches((policy.get("spec") or {}).get("podSelector") or {}, pod_labels)
    ]
    if not isolating:
        return []
    names = ", ".join(str((p.get("metadata") or {}).get("name", "")) for p in isolating)
    subject = f"NetworkPolicies {names} select" if len(isolating) > 1 else f"NetworkPolicy {names} selects"
    admit = "admit" if len(isolating) > 1 else "admits"
    return [
        f"{subject} the VM's pod and {admit} no ingress on port {target}: connections "
        "through the Service will time out until an ingress rule allows that port"
        for target in target_ports
        if not any(_admits(policy, target) for policy in isolating)
    ]


def unread_policies_warning(namespace: str) -> str:
    """The warning when this user may not list the namespace's NetworkPolicies: the check above is skipped."""
    return (f'NetworkPolicies not checked: this user may not list networkpolicies in namespace "{namespace}" '
            "(a policy there may keep traffic from reaching the VM)")


def _isolates_ingress(policy: Mapping[str, Any]) -> bool:
    types = (policy.get("spec") or {}).get("policyTypes")
    return not types or "Ingress" in types


def _admits(policy: Mapping[str, Any], target: GuestPort) -> bool:
    rules = (policy.get("spec") or {}).get("ingress") or []
    return any(_rule_admits(rule or {}, target) for rule in rules)


def _rule_admits(rule: Mapping[str, Any], target: GuestPort) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    for entry in ports:
        if str(entry.get("protocol") or "TCP").upper() != target.protocol:
            continue
        port = entry.get("port")
        if port is None:
            return True
        if isinstance(port, str) and not port.isdigit():
            if port == target.name:
                return True
            continue
        first = int(port)
        last = int(entry.get("endPort") or first)
        if target.number is not None and first <= target.number <= last:
            return True
    return False


def _binding(interface: Mapping[str, Any]) -> str:
    plugin = interface.get("binding")
    if plugin:
        return f"plugin {plugin.get('name', '')}"
    return next((name for name in BINDINGS if name in interface), "unspecified")


def _declared_ports(interface: Mapping[str, Any]) -> list[DeclaredPort]:
    return [
        DeclaredPort(
            port=int(entry["port"]),
            protocol=str(entry.get("protocol") or "TCP").upper(),
            name=entry.get("name") or None,
        )
        for entry in interface.get("ports") or []
    ]


def _describe_network(network: Mapping[str, Any]) -> str:
    sources = [key for key in network if key != "name"]
    return f"{network.get('name', '')} ({', '.join(sources) or 'no source'})"
