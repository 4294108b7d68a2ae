"""A running VM: the selector from the pod's actual labels, live labels (no restart), --restart, --start,
declared ports, and verification by one watch."""

from __future__ import annotations

import pytest

from tests.conftest import RunningSandbox
from tests.e2e.conftest import (
    as_if_before_kubevirt_1_7,
    create_vm,
    launcher_pod,
    ready_endpoint_pods,
    seed_document,
    service_or_none,
    template_labels,
    vm_manifest,
    wait_vm_ready,
)

pytestmark = pytest.mark.sandbox

READS = ["GET virtualmachines", "GET virtualmachineinstances", "LIST pods", "GET services", "LIST networkpolicies"]


def test_running_vm_on_kubevirt_1_7_is_selected_by_its_pods_id_label_with_no_change(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("web"))
    vm_before = sandbox.get("vm", "web", namespace=namespace)
    pod = launcher_pod(sandbox, namespace, "web")
    result = virt_expose("vm", "web", "-n", namespace, "--port", "80")
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert lines[0] == "service/web created"
    assert lines[1].startswith(f"service/web verified: 1 ready endpoint {pod['status']['podIP']}:80")
    assert result.verbs() == [*READS, "POST services", "WATCH endpointslices"]
    service = sandbox.get("service", "web", namespace=namespace)
    assert service["spec"]["selector"] == {"vmi.kubevirt.io/id": "web"}
    assert sandbox.get("vm", "web", namespace=namespace)["metadata"]["resourceVersion"] == \
        vm_before["metadata"]["resourceVersion"]
    assert f"Inside the cluster: web.{namespace}.svc on 80/TCP (cluster IP {service['spec']['clusterIP']})" \
        in result.stdout


def test_running_vm_whose_pod_predates_kubevirt_1_7_is_labeled_live_without_a_restart(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("old"))
    pod = as_if_before_kubevirt_1_7(sandbox, namespace, "old")
    result = virt_expose("vm", "old", "-n", namespace, "--port", "80")
    assert result.code == 0, result
    assert result.stdout.splitlines()[:4] == [
        "virtualmachine.kubevirt.io/old labeled",
        "virtualmachineinstance.kubevirt.io/old labeled",
        f"pod/{pod['metadata']['name']} labeled",
        "service/old created",
    ]
    assert result.verbs() == [*READS, "PATCH virtualmachines", "PATCH virtualmachineinstances", "PATCH pods",
                              "POST services", "WATCH endpointslices"]
    label = {"kubevirt.io/domain": "old"}
    assert template_labels(sandbox, namespace, "old").items() >= label.items()
    assert sandbox.get("vmi", "old", namespace=namespace)["metadata"]["labels"].items() >= label.items()
    after = launcher_pod(sandbox, namespace, "old")
    assert after["metadata"]["uid"] == pod["metadata"]["uid"]  # no restart
    assert after["metadata"]["labels"].items() >= label.items()
    assert sandbox.get("service", "old", namespace=namespace)["spec"]["selector"] == label
    assert ready_endpoint_pods(sandbox, namespace, "old") == [pod["metadata"]["name"]]


def test_restart_always_restarts_the_vm_instead_of_labelling_it_live(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("again"))
    pod = launcher_pod(sandbox, namespace, "again")
    result = virt_expose("vm", "again", "-n", namespace, "--port", "80", "--selector", "special=key",
                         "--restart=always")
    assert result.code == 0, result
    assert result.stdout.splitlines()[:3] == [
        "virtualmachine.kubevirt.io/again labeled", "service/again created",
        "virtualmachine.kubevirt.io/again restarted"]
    assert "PATCH virtualmachineinstances" not in result.verbs() and "PATCH pods" not in result.verbs()
    assert result.verbs()[-2:] == ["PUT restart", "WATCH endpointslices"]
    wait_vm_ready(sandbox, namespace, "again")
    new_pod = launcher_pod(sandbox, namespace, "again")
    assert new_pod["metadata"]["uid"] != pod["metadata"]["uid"]
    assert new_pod["metadata"]["labels"]["special"] == "key"
    assert f"ready endpoint {new_pod['status']['podIP']}:80" in result.stdout


def test_restart_never_changes_only_the_template_and_exits_3(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("later"))
    pod = launcher_pod(sandbox, namespace, "later")
    result = virt_expose("vm", "later", "-n", namespace, "--port", "80", "--selector", "special=key",
                         "--restart=never")
    assert result.code == 3, result
    assert result.stdout.splitlines()[:2] == ["virtualmachine.kubevirt.io/later labeled", "service/later created"]
    assert "next restarts" in result.stderr and result.stderr.startswith("error: ")
    assert template_labels(sandbox, namespace, "later")["special"] == "key"
    assert "special" not in launcher_pod(sandbox, namespace, "later")["metadata"]["labels"]
    assert launcher_pod(sandbox, namespace, "later")["metadata"]["uid"] == pod["metadata"]["uid"]


def test_start_starts_a_stopped_vm_and_verifies_it(sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("sleeper", running=False))
    result = virt_expose("vm", "sleeper", "-n", namespace, "--port", "22", "--start", "--timeout", "90s")
    assert result.code == 0, result
    assert result.stdout.splitlines()[:3] == [
        "virtualmachine.kubevirt.io/sleeper labeled", "service/sleeper created",
        "virtualmachine.kubevirt.io/sleeper started"]
    pod = launcher_pod(sandbox, namespace, "sleeper")
    assert f"ready endpoint {pod['status']['podIP']}:22" in result.stdout
    assert result.verbs()[-2:] == ["PUT start", "WATCH endpointslices"]


def test_ports_declared_on_the_vms_interface_are_used_and_named_targets_resolve(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, seed_document("web-vm"))
    declared = virt_expose("vm", "web-vm", "-n", namespace)
    assert declared.code == 0, declared
    ports = sandbox.get("service", "web-vm", namespace=namespace)["spec"]["ports"]
    assert [(p["port"], p["protocol"], p["targetPort"]) for p in ports] == [(80, "TCP", 80)]

    named = virt_expose("vm", "web-vm", "-n", namespace, "--name", "web-named", "--port", "8080",
                        "--target-port", "http")
    assert named.code == 0, named
    pod = launcher_pod(sandbox, namespace, "web-vm")
    assert f"ready endpoint {pod['status']['podIP']}:80" in named.stdout  # "http" resolved to 80 by Kubernetes

    refused = virt_expose("vm", "web-vm", "-n", namespace, "--name", "web-443", "--port", "443")
    assert refused.code == 1, refused
    assert "forwards only 80/TCP (http)" in refused.stderr
    assert service_or_none(sandbox, namespace, "web-443") is None


def test_a_selector_that_also_matches_another_vm_warns(sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("twin-a", template_labels={"app": "twins"}))
    create_vm(sandbox, namespace, vm_manifest("twin-b", template_labels={"app": "twins"}))
    other = launcher_pod(sandbox, namespace, "twin-b")["metadata"]["name"]
    result = virt_expose("vm", "twin-a", "-n", namespace, "--port", "80", "--selector", "app=twins")
    assert result.code == 0, result
    assert f"Warning: the selector app=twins also matches {other}" in result.stderr


def test_verification_times_out_with_exit_3_when_the_pod_is_not_ready(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    """`--timeout` bounds the watch; the Service stays, and the message says re-running waits again."""
    create_vm(sandbox, namespace, vm_manifest("slow", running=False))
    result = virt_expose("vm", "slow", "-n", namespace, "--port", "80", "--start", "--timeout", "1s")
    if result.code == 0:
        pytest.skip("the sandbox made the VM ready within a second")
    assert result.code == 3, result
    assert "timed out after 1s waiting for a ready endpoint of VirtualMachine slow" in result.stderr
    assert service_or_none(sandbox, namespace, "slow") is not None
