"""Unit-test helpers: options from a command line, KubeVirt objects as the API returns them.

Imported by name (`from kubevirt_objects import ...`): pytest puts this folder on sys.path."""

from __future__ import annotations

from typing import Any

from oc_virt_expose.cli import build_parser, normalize_argv, value_flags
from oc_virt_expose.options import ExposeOptions


def options_for(*argv: str) -> ExposeOptions:
    """ExposeOptions as `main` builds them from this command line (not validated)."""
    parser = build_parser()
    return ExposeOptions.from_args(parser.parse_args(normalize_argv(list(argv), value_flags(parser))))


def valid_options(*argv: str) -> ExposeOptions:
    options = options_for(*argv)
    options.validate()
    return options


def vm(
    name: str = "example-vm",
    *,
    namespace: str = "example-namespace",
    labels: dict[str, str] | None = None,
    template_labels: dict[str, str] | None = None,
    spec: dict[str, Any] | None = None,
    uid: str = "11111111-2222-3333-4444-555555555555",
) -> dict[str, Any]:
    """A VirtualMachine; `spec` is its template's spec (default: no networks, as the seed's VM)."""
    template: dict[str, Any] = {"metadata": {}, "spec": spec or {"domain": {"devices": {}}}}
    if template_labels is not None:
        template["metadata"]["labels"] = template_labels
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "uid": uid}
    if labels is not None:
        metadata["labels"] = labels
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": metadata,
        "spec": {"runStrategy": "Halted", "template": template},
    }


def vmi(name: str = "example-vm", *, labels: dict[str, str] | None = None, uid: str = "vmi-uid") -> dict[str, Any]:
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": name, "namespace": "example-namespace", "uid": uid, "labels": labels or {}},
        "spec": {"domain": {"devices": {}}},
    }


def pod(name: str, labels: dict[str, str], phase: str = "Running") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "status": {"phase": phase}}
