"""`model.objects`: accessors on API objects as the server sends them (plain dicts); pure."""

from __future__ import annotations

from typing import Any

import pytest

from oc_virt_expose.model.objects import (
    describe,
    host_port,
    is_finishing,
    may_run,
    name_of,
    namespace_of,
    own_labels,
    printable,
    resource_name,
    template_labels,
    uid_of,
)
from tests.unit.builders import VM_UID, pod, replica_set, vm, vmi

SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "example-service"}}


def test_metadata_accessors() -> None:
    example = vm(labels={"app": "shop"}, template_labels={"special": "key"})
    assert (name_of(example), namespace_of(example), uid_of(example)) == ("example-vm", "example-namespace", VM_UID)
    assert own_labels(example) == {"app": "shop"}
    assert template_labels(example) == {"special": "key"}
    assert template_labels(replica_set(template_labels={"app": "web"})) == {"app": "web"}


@pytest.mark.parametrize("empty", [{}, {"metadata": None}, {"metadata": {"labels": None}}, {"spec": None}])
def test_accessors_of_missing_fields_are_empty(empty: dict[str, Any]) -> None:
    assert (name_of(empty), namespace_of(empty), uid_of(empty)) == ("", "", "")
    assert own_labels(empty) == {} and template_labels(empty) == {}


def test_labels_are_copies() -> None:
    example = vm(labels={"app": "shop"}, template_labels={"special": "key"})
    own_labels(example)["app"] = "changed"
    template_labels(example)["special"] = "changed"
    assert own_labels(example) == {"app": "shop"} and template_labels(example) == {"special": "key"}


def test_names_in_messages_and_change_lines() -> None:
    assert describe(vm()) == "VirtualMachine example-vm"
    assert describe({"metadata": {"name": "x"}}) == "object x"
    assert resource_name(SERVICE) == "service"
    assert resource_name(vm()) == "virtualmachine.kubevirt.io"
    assert resource_name(pod("p", {})) == "pod"


def test_printable_drops_managed_fields_only() -> None:
    obj = {"kind": "Service", "metadata": {"name": "s", "managedFields": [{"manager": "kubectl"}]}, "spec": {}}
    assert printable(obj) == {"kind": "Service", "metadata": {"name": "s"}, "spec": {}}
    assert obj["metadata"]["managedFields"]  # the object itself is left as it was


def test_finishing_objects() -> None:
    assert not is_finishing(pod("p", {}))
    assert is_finishing(pod("p", {}, phase="Succeeded")) and is_finishing(pod("p", {}, phase="Failed"))
    assert is_finishing(vmi(phase="Running") | {"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}})
    assert not is_finishing(vmi(phase="Running"))


def test_may_run() -> None:
    assert not may_run(vm(run_strategy="Halted"))
    assert may_run(vm(run_strategy="Always"))
    stopping = vm(run_strategy="Halted")
    stopping["status"] = {"created": True}  # asked to halt, its VMI still there
    assert may_run(stopping)
    legacy = vm()
    legacy["spec"] = {"running": False, "template": legacy["spec"]["template"]}
    assert not may_run(legacy)
    legacy["spec"]["running"] = True
    assert may_run(legacy)


def test_host_port() -> None:
    assert host_port("10.0.0.1", 80) == "10.0.0.1:80"
    assert host_port("fd00::1", "http") == "[fd00::1]:http"
