"""The sandbox cluster itself: real Kubernetes and KubeVirt behaviour over HTTPS, through the real kubectl."""

from __future__ import annotations

import json

import pytest

from tests.e2e.workloads import (
    launcher_pod,
    vm_subresource,
    wait_for_new_vmi,
    wait_for_sole_endpoint,
    wait_vm_ready,
)
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox


def app_vm(name: str, running: bool = True) -> dict:
    """A VM whose template labels it `app: NAME`, as a Service's selector would pick it."""
    return vm_manifest(name, running=running, template_labels={"app": name})


def test_server_is_kubernetes_v1_37_2(sandbox: RunningSandbox) -> None:
    version = json.loads(sandbox.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == "v1.37.2"


def test_kubectl_reads_kubevirt_and_core_resources(sandbox: RunningSandbox) -> None:
    listing = sandbox.kubectl("get", "svc,vm,vmi,pods,endpointslices", "-n", "example-namespace")
    assert "virtualmachine.kubevirt.io/example-vm" in listing.stdout
    vm = sandbox.kubectl("get", "vm", "example-vm", "-o", "yaml").stdout  # the context's namespace
    assert "name: example-vm" in vm and "running: false" in vm


def test_api_resources_list_kubevirt_short_names(sandbox: RunningSandbox) -> None:
    resources = sandbox.kubectl("api-resources", "--api-group=kubevirt.io", "-o", "wide").stdout
    short_names = {line.split()[0]: line.split()[1] for line in resources.splitlines()[1:]}
    assert short_names["virtualmachines"] == "vm,vms"
    assert short_names["virtualmachineinstances"] == "vmi,vmis"
    assert short_names["virtualmachineinstancereplicasets"] == "vmirs,vmirss"
    discovery = json.loads(sandbox.kubectl("get", "--raw", "/apis/subresources.kubevirt.io/v1").stdout)
    assert "virtualmachines/restart" in {r["name"] for r in discovery["resources"]}


def test_auth_can_i_answers_for_the_admin(sandbox: RunningSandbox) -> None:
    assert sandbox.kubectl("auth", "can-i", "patch", "virtualmachines.kubevirt.io").stdout.strip() == "yes"
    assert sandbox.kubectl("auth", "can-i", "create", "services", "-n", "kube-system").stdout.strip() == "yes"


def test_merge_patch_of_a_vm_template_label(sandbox: RunningSandbox, namespace: str) -> None:
    sandbox.apply(app_vm("patched", running=False), namespace)
    patch = '{"spec":{"template":{"metadata":{"labels":{"special":"key"}}}}}'
    sandbox.kubectl("patch", "vm", "patched", "--type", "merge", "-p", patch, namespace=namespace)
    vm = sandbox.get("vm", "patched", namespace=namespace)
    assert vm["spec"]["template"]["metadata"]["labels"] == {"app": "patched", "special": "key"}
    refused = sandbox.kubectl("patch", "vm", "patched", "-p", patch, namespace=namespace, check=False)
    assert refused.returncode != 0 and "strategic-merge-patch+json is not supported" in refused.stderr


def test_vm_started_through_the_aggregated_api_runs_with_kubevirt_labels(
        sandbox: RunningSandbox, namespace: str) -> None:
    sandbox.apply(app_vm("starter", running=False), namespace)
    vm_subresource(sandbox, namespace, "starter", "start")
    wait_vm_ready(sandbox, namespace, "starter")
    vmi = sandbox.get("vmi", "starter", namespace=namespace)
    assert vmi["status"]["phase"] == "Running"
    assert vmi["status"]["selinuxContext"] == "none"
    assert [t["phase"] for t in vmi["status"]["phaseTransitionTimestamps"]][-1] == "Running"
    pod = launcher_pod(sandbox, namespace, "starter")
    labels = pod["metadata"]["labels"]
    assert labels["kubevirt.io"] == "virt-launcher"
    assert labels["kubevirt.io/created-by"] == vmi["metadata"]["uid"]
    assert labels["vmi.kubevirt.io/id"] == "starter"
    assert labels["vm.kubevirt.io/name"] == "starter"
    assert labels["app"] == "starter"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "VirtualMachineInstance"
    ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert ready["Ready"] == "True" and ready["kubevirt.io/virtual-machine-unpaused"] == "True"
    assert vmi["status"]["interfaces"][0]["ipAddress"] == pod["status"]["podIP"]


def test_service_endpoint_follows_the_vm_across_a_restart(sandbox: RunningSandbox, namespace: str) -> None:
    sandbox.apply(app_vm("web"), namespace)
    wait_vm_ready(sandbox, namespace, "web")
    sandbox.kubectl("create", "service", "clusterip", "web", "--tcp=80:8080", namespace=namespace)
    sandbox.kubectl("set", "selector", "service", "web", "app=web", namespace=namespace)
    first = launcher_pod(sandbox, namespace, "web")
    wait_for_sole_endpoint(sandbox, namespace, "web", first["metadata"]["name"])

    first_vmi = sandbox.get("vmi", "web", namespace=namespace)["metadata"]["uid"]
    vm_subresource(sandbox, namespace, "web", "restart")
    sandbox.kubectl("wait", "pod", first["metadata"]["name"], "--for=delete", "--timeout=60s", namespace=namespace)
    wait_for_new_vmi(sandbox, namespace, "web", first_vmi)  # the VM's Ready condition may still be the old VMI's
    sandbox.kubectl("wait", "vmi/web", "--for=condition=Ready", "--timeout=90s", namespace=namespace)
    second = launcher_pod(sandbox, namespace, "web")
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    wait_for_sole_endpoint(sandbox, namespace, "web", second["metadata"]["name"])


def test_kubevirt_webhook_guards_vmi_updates(sandbox: RunningSandbox, namespace: str) -> None:
    sandbox.apply(app_vm("guarded"), namespace)
    wait_vm_ready(sandbox, namespace, "guarded")
    more_memory = '{"spec":{"domain":{"resources":{"requests":{"memory":"256Mi"}}}}}'
    spec_change = sandbox.kubectl("patch", "vmi", "guarded", "--type", "merge", "-p", more_memory,
                                  namespace=namespace, check=False)
    assert spec_change.returncode != 0
    assert "update of VMI object is restricted" in spec_change.stderr
    reserved = sandbox.kubectl("label", "vmi", "guarded", "kubevirt.io/created-by=someone", "--overwrite",
                               namespace=namespace, check=False)
    assert reserved.returncode != 0
    assert "modification of the following reserved kubevirt.io/ labels on a VMI object is prohibited" in reserved.stderr
    sandbox.kubectl("label", "vmi", "guarded", "special=key", namespace=namespace)
    assert sandbox.get("vmi", "guarded", namespace=namespace)["metadata"]["labels"]["special"] == "key"


def test_seed_demo_objects(sandbox: RunningSandbox) -> None:
    vm = sandbox.get("vm", "example-vm", namespace="example-namespace")
    assert vm["spec"]["running"] is False
    assert not (vm["spec"]["template"].get("metadata") or {}).get("labels")
    sandbox.kubectl("wait", "vmirs/web-replicas", "--for=jsonpath={.status.readyReplicas}=2", "--timeout=60s",
                    namespace="example-namespace")
    assert sandbox.get("vm", "other-vm", namespace="other-namespace")["metadata"]["name"] == "other-vm"
    web = sandbox.get("vm", "web-vm", namespace="example-namespace")
    ports = web["spec"]["template"]["spec"]["domain"]["devices"]["interfaces"][0]["ports"]
    assert ports == [{"name": "http", "port": 80}]
