"""Many VMs in one command: several NAMEs, --vm-selector, --all. Each VM gets its own Service named after
it; reads are batched (one LIST per kind), verification shares one watch; a VM that fails is named with
its reason and does not stop the others; the exit code is the worst of them."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.e2e.workloads import create_vm, launcher_pod, service_or_none, template_labels
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox

LAB_VMS = 50
REFUSED = "lab-17"


def lab_vm(name: str, *, running: bool = False) -> dict:
    manifest = vm_manifest(name, running=running)
    manifest["metadata"]["labels"] = {"app": "lab"}
    if name == REFUSED:  # only on a secondary network: no Service can reach it
        template_spec = manifest["spec"]["template"]["spec"]
        template_spec["networks"] = [{"name": "storage", "multus": {"networkName": "storage-net"}}]
        template_spec["domain"]["devices"]["interfaces"] = [{"name": "storage", "bridge": {}}]
    return manifest


def test_fifty_vms_by_selector_one_refused_forty_nine_exposed_exit_1(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    names = [f"lab-{index:02d}" for index in range(LAB_VMS)]
    sandbox.apply({"apiVersion": "v1", "kind": "List", "items": [lab_vm(name) for name in names]}, namespace)
    result = virt_expose("vm", "--vm-selector", "app=lab", "-n", namespace, "--port", "22", "--name-suffix", "-ssh",
                         timeout=300)
    assert result.code == 1, result
    assert f"error: virtualmachine.kubevirt.io/{REFUSED}: " in result.stderr
    assert "pod network" in result.stderr.split(f"virtualmachine.kubevirt.io/{REFUSED}: ")[1].splitlines()[0]
    assert result.stdout.splitlines()[-1] == f"{LAB_VMS - 1} of {LAB_VMS} VirtualMachines exposed; failed: {REFUSED}"
    services = sandbox.get("services", namespace=namespace, selector="virt-expose.kubevirt.io/vm")["items"]
    assert sorted(s["metadata"]["name"] for s in services) == sorted(f"{n}-ssh" for n in names if n != REFUSED)
    assert template_labels(sandbox, namespace, "lab-03") == {"kubevirt.io/domain": "lab-03"}
    assert template_labels(sandbox, namespace, REFUSED) == {}
    counts = Counter(result.verbs())
    assert counts == Counter({"LIST virtualmachines": 1, "LIST services": 1, "LIST networkpolicies": 1,
                              "PATCH virtualmachines": LAB_VMS - 1, "POST services": LAB_VMS - 1})
    assert len(result.requests) <= 3 + 2 * LAB_VMS


def test_running_vms_by_name_share_one_watch_and_each_is_verified(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    for name in ("web-a", "web-b", "web-c"):
        create_vm(sandbox, namespace, vm_manifest(name))
    result = virt_expose("vm", "web-a", "web-b", "web-c", "-n", namespace, "--port", "80")
    assert result.code == 0, result
    for name in ("web-a", "web-b", "web-c"):
        pod = launcher_pod(sandbox, namespace, name)
        assert f"service/{name} verified: 1 ready endpoint {pod['status']['podIP']}:80" in result.stdout
        assert sandbox.get("service", name, namespace=namespace)["spec"]["selector"] == {"vmi.kubevirt.io/id": name}
    assert result.stdout.splitlines()[-1] == "3 of 3 VirtualMachines exposed"
    assert Counter(result.verbs()) == Counter({
        "LIST virtualmachines": 1, "LIST virtualmachineinstances": 1, "LIST pods": 1, "LIST services": 1,
        "LIST networkpolicies": 1, "POST services": 3, "WATCH endpointslices": 1})


def test_an_unknown_name_is_named_and_the_others_are_exposed(sandbox: RunningSandbox, namespace: str,
                                                             virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("known", running=False))
    result = virt_expose("vm", "known", "nope", "-n", namespace, "--port", "80")
    assert result.code == 1, result
    assert 'error: virtualmachine.kubevirt.io/nope: virtualmachines.kubevirt.io "nope" not found' in result.stderr
    assert service_or_none(sandbox, namespace, "known") is not None
    assert result.stdout.splitlines()[-1] == "1 of 2 VirtualMachines exposed; failed: nope"


def test_all_with_dry_run_client_changes_nothing(sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    for name in ("one", "two"):
        create_vm(sandbox, namespace, vm_manifest(name, running=False))
    result = virt_expose("vm", "--all", "-n", namespace, "--port", "80", "--dry-run=client")
    assert result.code == 0, result
    assert "service/one created (dry run)" in result.stdout and "service/two created (dry run)" in result.stdout
    assert result.stdout.splitlines()[-1] == "2 of 2 VirtualMachines exposed (dry run)"
    assert {verb for verb in result.verbs()} == {"LIST virtualmachines", "LIST services", "LIST networkpolicies"}
    assert service_or_none(sandbox, namespace, "one") is None


@pytest.mark.parametrize("flags", [("--name", "svc"), ("--selector", "a=b"), ("--node-port", "30001")])
def test_flags_for_one_object_are_refused_with_several(flags: tuple[str, str], sandbox: RunningSandbox,
                                                       namespace: str, virt_expose) -> None:
    result = virt_expose("vm", "a", "b", "-n", namespace, "--port", "80", "--type", "NodePort", *flags)
    assert result.code == 2, result
    assert f"{flags[0]} applies to one object" in result.stderr
    assert result.requests == []
