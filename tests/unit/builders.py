"""Unit-test builders: KubeVirt objects as the API returns them (the one way unit tests make a VM, VMI,
launcher pod, replica set or EndpointSlice), and `expose`'s request and common options from a command line.

Imported as `from tests.unit.builders import ...` (`python -m pytest` puts the repository on sys.path)."""

from __future__ import annotations

import argparse
from typing import Any

from oc_virt_expose.cli.argv import normalize_argv
from oc_virt_expose.cli.parser import DEFAULT_VERB, build_parser, verb_parser
from oc_virt_expose.commands.common import common_options
from oc_virt_expose.commands.expose.options import OUTPUTS, ExposeRequest, request_from_args
from oc_virt_expose.commands.expose.targets import parse_targets
from oc_virt_expose.model.endpoints import SERVICE_NAME_LABEL
from oc_virt_expose.model.settings import CommonOptions

NAMESPACE = "example-namespace"
VM_UID = "11111111-2222-3333-4444-555555555555"
VMI_UID = "vmi-uid"


# -- the command line --------------------------------------------------------------------------------

def command_line(*argv: str) -> argparse.Namespace:
    """What `cli.main` parses from `PROG TYPE NAME [flags]` (expose, the default verb)."""
    parser = build_parser()
    return parser.parse_args([DEFAULT_VERB, *normalize_argv(list(argv), verb_parser(parser, DEFAULT_VERB))])


def request_for(*argv: str) -> ExposeRequest:
    """`expose`'s request for the one object of this command line, completed but not validated."""
    args = command_line(*argv)
    targets = parse_targets(args)
    assert targets.single is not None, f"not one object: {argv}"
    return ExposeRequest.from_args(args, targets.kind, targets.single)


def valid_request(*argv: str) -> ExposeRequest:
    """The validated request `cli.main` hands to the run, for one object."""
    request = request_from_args(command_line(*argv))
    assert isinstance(request, ExposeRequest), f"not one object: {argv}"
    return request


def common_for(*argv: str) -> CommonOptions:
    """The shared flags (connection, -v, -o, --dry-run) of this command line, validated."""
    return common_options(command_line(*argv), OUTPUTS)


def validated(*argv: str) -> tuple[ExposeRequest, CommonOptions]:
    """Request and common options, each validated, as `cli.main` builds them before a run."""
    return valid_request(*argv), common_for(*argv)


# -- objects -----------------------------------------------------------------------------------------

def vm(
    name: str = "example-vm",
    *,
    namespace: str = NAMESPACE,
    labels: dict[str, str] | None = None,
    template_labels: dict[str, str] | None = None,
    spec: dict[str, Any] | None = None,
    uid: str = VM_UID,
    run_strategy: str = "Halted",
    resource_version: str | None = None,
) -> dict[str, Any]:
    """A VirtualMachine; `spec` is its template's spec (default: no networks, as the seed's VM)."""
    template: dict[str, Any] = {"metadata": {}, "spec": spec or {"domain": {"devices": {}}}}
    if template_labels is not None:
        template["metadata"]["labels"] = template_labels
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": _metadata(name, namespace, uid, labels, resource_version),
        "spec": {"runStrategy": run_strategy, "template": template},
    }


def vmi(
    name: str = "example-vm",
    *,
    labels: dict[str, str] | None = None,
    uid: str = VMI_UID,
    resource_version: str | None = None,
    phase: str | None = None,
) -> dict[str, Any]:
    """A VirtualMachineInstance (a VM's, when `name` is the VM's); `phase` None: no status yet."""
    instance: dict[str, Any] = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": _metadata(name, NAMESPACE, uid, labels or {}, resource_version),
        "spec": {"domain": {"devices": {}}},
    }
    if phase is not None:
        instance["status"] = {"phase": phase}
    return instance


def pod(
    name: str,
    labels: dict[str, str],
    phase: str = "Running",
    *,
    uid: str | None = None,
    resource_version: str | None = None,
    host_ip: str | None = None,
) -> dict[str, Any]:
    """A pod as a list returns it; a launcher pod when named `virt-launcher-<vmi>-xxxxx`."""
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if uid is not None:
        metadata["uid"] = uid
    if resource_version is not None:
        metadata["resourceVersion"] = resource_version
    status: dict[str, Any] = {"phase": phase}
    if host_ip is not None:
        status["hostIP"] = host_ip
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "status": status}


def replica_set(
    name: str = "rs",
    selector: dict[str, Any] | None = None,
    *,
    template_labels: dict[str, str] | None = None,
    namespace: str = NAMESPACE,
    uid: str = "rs-uid",
) -> dict[str, Any]:
    """A VirtualMachineInstanceReplicaSet; `selector` is its `spec.selector` as given."""
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstanceReplicaSet",
        "metadata": _metadata(name, namespace, uid, None, None),
        "spec": {"selector": selector if selector is not None else {},
                 "template": {"metadata": {"labels": template_labels or {}}, "spec": {"domain": {"devices": {}}}}},
    }


def endpoint_slice(family: str, endpoints: list[tuple[str, str, str, bool | None]], port: int = 80, *,
                   service: str | None = None, name: str | None = None,
                   resource_version: str | None = None) -> dict[str, Any]:
    """An EndpointSlice (of `service`, labeled as the API server labels it); `endpoints`: (pod name, pod uid,
    address, ready; None: the condition is not set)."""
    entries = []
    for pod_name, uid, address, ready in endpoints:
        conditions = {} if ready is None else {"ready": ready}
        entries.append({"addresses": [address], "conditions": conditions,
                        "targetRef": {"kind": "Pod", "name": pod_name, "uid": uid}})
    built: dict[str, Any] = {"addressType": family, "ports": [{"port": port, "protocol": "TCP"}], "endpoints": entries}
    if name is not None or service is not None:
        built["metadata"] = {"name": name or f"{service}-{family.lower()}", "resourceVersion": resource_version,
                             "labels": {SERVICE_NAME_LABEL: service} if service else {}}
    return built


def _metadata(name: str, namespace: str, uid: str, labels: dict[str, str] | None,
              resource_version: str | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "uid": uid}
    if resource_version is not None:
        metadata["resourceVersion"] = resource_version
    if labels is not None:
        metadata["labels"] = labels
    return metadata
