"""The KubeVirt kinds a Service can expose, and `TYPE NAME` / `TYPE/NAME` as kubectl reads them; pure."""

from __future__ import annotations

from typing import NamedTuple

from oc_virt_expose.errors import UsageError


class ResourceKind(NamedTuple):
    """A KubeVirt kind that can be exposed."""

    short: str
    kind: str
    plural: str
    group: str = "kubevirt.io"
    version: str = "v1"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def qualified(self) -> str:
        """`virtualmachine.kubevirt.io`: kubectl's name of the resource in `TYPE/NAME` lines."""
        return f"{self.kind.lower()}.{self.group}"


VM = ResourceKind("vm", "VirtualMachine", "virtualmachines")
VMI = ResourceKind("vmi", "VirtualMachineInstance", "virtualmachineinstances")
VMIRS = ResourceKind("vmirs", "VirtualMachineInstanceReplicaSet", "virtualmachineinstancereplicasets")
RESOURCE_KINDS = (VM, VMI, VMIRS)
TYPE_HELP = "vm (virtualmachine), vmi (virtualmachineinstance) or vmirs (virtualmachineinstancereplicaset)"


def parse_type_and_name(resource_type: str, resource_name: str | None, *, verb: str = "expose") -> tuple[
        ResourceKind, str]:
    """`vm NAME` or `vm/NAME` (case-insensitive type, any alias) -> (kind, name)."""
    if "/" in resource_type:
        if resource_name is not None:
            raise UsageError(
                "there is no need to specify a resource type as a separate argument when passing "
                "arguments in resource/name form"
            )
        resource_type, _, resource_name = resource_type.partition("/")
    kind = parse_resource_type(resource_type)
    if not resource_name:
        raise UsageError(f"NAME is required: which {kind.kind} to {verb}")
    return kind, resource_name


def parse_resource_type(text: str) -> ResourceKind:
    """vm/vms/virtualmachine(s), vmi/..., vmirs/..., case-insensitive, optionally `.kubevirt.io`."""
    word = text.lower()
    for suffix in (".v1.kubevirt.io", ".kubevirt.io"):
        if word.endswith(suffix):
            word = word[: -len(suffix)]
    for kind in RESOURCE_KINDS:
        singular = kind.kind.lower()
        if word in (kind.short, kind.short + "s", singular, kind.plural):
            return kind
    raise UsageError(f'unsupported resource type "{text}": expected {TYPE_HELP}')
