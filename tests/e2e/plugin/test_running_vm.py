"""A running VM: the selector from the pod's actual labels, live labels (no restart), --restart, --start,
declared ports, and verification by one watch."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.e2e.workloads import (
    as_if_before_kubevirt_1_7,
    create_vm,
    launcher_pod,
    ready_endpoint_pods,
    service_or_none,
    template_labels,
)
from tests.sandbox.manifests import seed_document, vm_manifest
from tests.sandbox.running import VENV_BIN, RunningSandbox

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
        "service/old created",
        "virtualmachine.kubevirt.io/old labeled",
        "virtualmachineinstance.kubevirt.io/old labeled",
        f"pod/{pod['metadata']['name']} labeled",
    ]
    assert result.verbs() == [*READS, "POST services", "PATCH virtualmachines", "PATCH virtualmachineinstances",
                              "PATCH pods", "WATCH endpointslices"]
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
        "service/again created", "virtualmachine.kubevirt.io/again labeled",
        "virtualmachine.kubevirt.io/again restarted"]
    assert "PATCH virtualmachineinstances" not in result.verbs() and "PATCH pods" not in result.verbs()
    assert result.verbs()[-2:] == ["PUT restart", "WATCH endpointslices"]
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
    assert result.stdout.splitlines()[:2] == ["service/later created", "virtualmachine.kubevirt.io/later labeled"]
    assert "next restarts" in result.stderr and result.stderr.startswith("error: ")
    assert template_labels(sandbox, namespace, "later")["special"] == "key"
    assert "special" not in launcher_pod(sandbox, namespace, "later")["metadata"]["labels"]
    assert launcher_pod(sandbox, namespace, "later")["metadata"]["uid"] == pod["metadata"]["uid"]


def test_start_starts_a_stopped_vm_and_verifies_it(sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("sleeper", running=False))
    result = virt_expose("vm", "sleeper", "-n", namespace, "--port", "22", "--start", "--timeout", "90s")
    assert result.code == 0, result
    assert result.stdout.splitlines()[:3] == [
        "service/sleeper created", "virtualmachine.kubevirt.io/sleeper labeled",
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


def test_verification_times_out_with_exit_3_when_no_pod_gets_ready(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    """`--timeout` bounds the watch; the Service stays, and the message says re-running waits again."""
    manifest = vm_manifest("stuck")
    manifest["spec"]["template"]["spec"]["nodeSelector"] = {"no-such-node": "true"}  # its pod stays Pending
    create_vm(sandbox, namespace, manifest, wait=False)
    sandbox.kubectl("wait", "vmi/stuck", "--for=create", "--timeout=60s", namespace=namespace)
    result = virt_expose("vm", "stuck", "-n", namespace, "--port", "80", "--timeout", "2s")
    assert result.code == 3, result
    assert result.stderr.startswith("error: timed out after 2s waiting for a ready endpoint of VirtualMachine stuck")
    assert "re-running the same command waits again" in result.stderr
    assert result.verbs()[-1] == "WATCH endpointslices"
    assert service_or_none(sandbox, namespace, "stuck") is not None


LIMITED_ROLE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: expose-without-live-labels}
rules:
- {apiGroups: [kubevirt.io], resources: [virtualmachines], verbs: [get, list, patch]}
- {apiGroups: [kubevirt.io], resources: [virtualmachineinstances], verbs: [get, list]}
- {apiGroups: [""], resources: [pods], verbs: [get, list]}
- {apiGroups: [""], resources: [services], verbs: [get, create]}
- {apiGroups: [networking.k8s.io], resources: [networkpolicies], verbs: [list]}
- {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch]}
- {apiGroups: [subresources.kubevirt.io], resources: [virtualmachines/restart], verbs: [update]}
"""


def test_refused_live_labelling_exits_3_and_restart_always_finishes_the_job(
        sandbox: RunningSandbox, namespace: str, virt_expose) -> None:
    create_vm(sandbox, namespace, vm_manifest("guarded"))
    sandbox.apply(LIMITED_ROLE, namespace)
    sandbox.kubectl("create", "serviceaccount", "limited", namespace=namespace)
    sandbox.kubectl("create", "rolebinding", "limited", "--role=expose-without-live-labels",
                    f"--serviceaccount={namespace}:limited", namespace=namespace)
    user = ("--as", f"system:serviceaccount:{namespace}:limited")

    refused = virt_expose("vm", "guarded", "-n", namespace, "--port", "80", "--selector", "special=key", *user)
    assert refused.code == 3, refused
    assert refused.stdout.splitlines() == ["service/guarded created", "virtualmachine.kubevirt.io/guarded labeled"]
    message = refused.stderr.strip()
    assert 'cannot patch resource "virtualmachineinstances"' in message
    assert "--restart=always" in message and len(message.splitlines()) == 1
    assert service_or_none(sandbox, namespace, "guarded") is not None  # it selects the VM once it restarts

    finished = virt_expose("vm", "guarded", "-n", namespace, "--port", "80", "--selector", "special=key",
                           "--restart=always", *user)
    assert finished.code == 0, finished
    assert finished.stdout.splitlines()[:2] == ["service/guarded unchanged",
                                                "virtualmachine.kubevirt.io/guarded restarted"]
    assert launcher_pod(sandbox, namespace, "guarded")["metadata"]["labels"]["special"] == "key"


def test_ctrl_c_during_verification_exits_130_after_saying_what_was_done(
        sandbox: RunningSandbox, namespace: str) -> None:
    manifest = vm_manifest("waiting")
    manifest["spec"]["template"]["spec"]["nodeSelector"] = {"no-such-node": "true"}  # never serves
    create_vm(sandbox, namespace, manifest, wait=False)
    sandbox.kubectl("wait", "vmi/waiting", "--for=create", "--timeout=60s", namespace=namespace)
    environment = dict(sandbox.env, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [str(VENV_BIN / "kubectl"), "virt-expose", "vm", "waiting", "-n", namespace, "--port", "80"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=environment) as process:
        assert process.stdout is not None
        assert process.stdout.readline() == "service/waiting created\n"
        process.send_signal(signal.SIGINT)  # kubectl execs the plugin: this is the plugin's process
        out, err = process.communicate(timeout=30)
    assert process.returncode == 130, (out, err)
    assert err == ("interrupted: done so far: service/waiting created; re-running the same command finishes "
                   "the job\n")
    assert "Traceback" not in err
