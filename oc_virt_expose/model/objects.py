"""Accessors on API objects as the server sends them (plain dicts); pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Object = dict[str, Any]
"""An API object as JSON: the server's answer, or a manifest to send."""


def name_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace", ""))


def uid_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid", ""))


def own_labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def template_labels(obj: Mapping[str, Any]) -> dict[str, str]:
    """`spec.template.metadata.labels` of a VM (or a VMIRS)."""
    template = (obj.get("spec") or {}).get("template") or {}
    return dict((template.get("metadata") or {}).get("labels") or {})


def describe(obj: Mapping[str, Any]) -> str:
    """`VirtualMachine example-vm`, for messages."""
    return f"{obj.get('kind', 'object')} {name_of(obj)}"


def resource_name(obj: Mapping[str, Any]) -> str:
    """kubectl's `TYPE` of an object: `service`, `pod`, `virtualmachine.kubevirt.io`."""
    api_version = str(obj.get("apiVersion", ""))
    kind = str(obj.get("kind", "")).lower()
    group = api_version.rpartition("/")[0]
    return f"{kind}.{group}" if group else kind


def printable(obj: Mapping[str, Any]) -> Object:
    """The object as kubectl prints it: without `metadata.managedFields`."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def is_finishing(obj: Mapping[str, Any]) -> bool:
    """Being deleted, or (a VMI, a pod) done: its labels no longer matter."""
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return True
    return (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def may_run(vm: Mapping[str, Any]) -> bool:
    """False when the VM is plainly stopped: asked to be halted and no VMI created."""
    spec = vm.get("spec") or {}
    halted = spec.get("running") is False or spec.get("runStrategy") == "Halted"
    return not halted or bool((vm.get("status") or {}).get("created"))


def host_port(address: str, port: int | str) -> str:
    """`10.0.0.1:80`, `[fd00::1]:80`."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
