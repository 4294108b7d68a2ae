"""The sandbox cluster itself: real Kubernetes and KubeVirt behaviour over HTTPS, through the real kubectl."""

from __future__ import annotations

import json
import secrets

import pytest

from tests.conftest import RunningSandbox, SandboxPool

pytestmark = pytest.mark.sandbox

RUNNING_VM = """
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: {name}
spec:
  runStrategy: {strategy}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      domain:
        devices:
          interfaces:
          - name: default
            masquerade: {{}}
        resources:
          requests:
            memory: 128Mi
      networks:
      - name: default
        pod: {{}}
"""


def vm_manifest(name: str, strategy: str = "Always") -> str:
    return RUNNING_VM.format(name=name, strategy=strategy)


def wait_vm_ready(sandbox: RunningSandbox, namespace: str, name: str) -> None:
    sandbox.kubectl("wait", f"vm/{name}", "--for=condition=Ready", "--timeout=60s", namespace=namespace)


def launcher_pod(sandbox: RunningSandbox, namespace: str, vmi_uid: str) -> dict:
    pods = sandbox.get("pods", "-l", f"kubevirt.io/created-by={vmi_uid}", namespace=namespace)["items"]
    running = [p for p in pods if p["status"].get("phase") == "Running" and "deletionTimestamp" not in p["metadata"]]
    assert len(running) == 1, [p["metadata"]["name"] for p in pods]
    return running[0]


def subresource(sandbox: RunningSandbox, namespace: str, vm: str, action: str) -> None:
    """PUT on virt-api's aggregated API, as `virtctl start|stop|restart` does."""
    path = f"/apis/subresources.kubevirt.io/v1/namespaces/{namespace}/virtualmachines/{vm}/{action}"
    sandbox.kubectl("replace", "--raw", path, "-f", "-", input="{}")


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
    sandbox.apply(vm_manifest("patched", strategy="Halted"), namespace)
    patch = '{"spec":{"template":{"metadata":{"labels":{"special":"key"}}}}}'
    sandbox.kubectl("patch", "vm", "patched", "--type", "merge", "-p", patch, namespace=namespace)
    vm = sandbox.get("vm", "patched", namespace=namespace)
    assert vm["spec"]["template"]["metadata"]["labels"] == {"app": "patched", "special": "key"}
    refused = sandbox.kubectl("patch", "vm", "patched", "-p", patch, namespace=namespace, check=False)
    assert refused.returncode != 0 and "strategic-merge-patch+json is not supported" in refused.stderr


def test_vm_started_through_the_aggregated_api_runs_with_kubevirt_labels(
        sandbox: RunningSandbox, namespace: str) -> None:
    sandbox.apply(vm_manifest("starter", strategy="Halted"), namespace)
    subresource(sandbox, namespace, "starter", "start")
    wait_vm_ready(sandbox, namespace, "starter")
    vmi = sandbox.get("vmi", "starter", namespace=namespace)
    assert vmi["status"]["phase"] == "Running"
    assert vmi["status"]["selinuxContext"] == "none"
    assert [t["phase"] for t in vmi["status"]["phaseTransitionTimestamps"]][-1] == "Running"
    pod = launcher_pod(sandbox, namespace, vmi["metadata"]["uid"])
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
    sandbox.apply(vm_manifest("web"), namespace)
    wait_vm_ready(sandbox, namespace, "web")
    sandbox.kubectl("create", "service", "clusterip", "web", "--tcp=80:8080", namespace=namespace)
    sandbox.kubectl("set", "selector", "service", "web", "app=web", namespace=namespace)
    first = launcher_pod(sandbox, namespace, sandbox.get("vmi", "web", namespace=namespace)["metadata"]["uid"])
    wait_endpoint(sandbox, namespace, "web", first["metadata"]["name"])

    subresource(sandbox, namespace, "web", "restart")
    sandbox.kubectl("wait", "pod", first["metadata"]["name"], "--for=delete", "--timeout=60s", namespace=namespace)
    wait_vm_ready(sandbox, namespace, "web")
    second = launcher_pod(sandbox, namespace, sandbox.get("vmi", "web", namespace=namespace)["metadata"]["uid"])
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    wait_endpoint(sandbox, namespace, "web", second["metadata"]["name"])


def wait_endpoint(sandbox: RunningSandbox, namespace: str, service: str, pod: str) -> None:
    """Waits (by kubectl's watch) for the Service's EndpointSlice to hold exactly that pod, ready."""
    sandbox.kubectl(
        "wait", "endpointslices", "-l", f"kubernetes.io/service-name={service}", "--timeout=60s",
        f"--for=jsonpath={{.endpoints[?(@.targetRef.name==\"{pod}\")].conditions.ready}}=true",
        namespace=namespace)
    slices = sandbox.get("endpointslices", "-l", f"kubernetes.io/service-name={service}", namespace=namespace)
    targets = [e["targetRef"]["name"] for s in slices["items"] for e in s.get("endpoints") or []]
    assert targets == [pod]


def test_kubevirt_webhook_guards_vmi_updates(sandbox: RunningSandbox, namespace: str) -> None:
    sandbox.apply(vm_manifest("guarded"), namespace)
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


@pytest.mark.parametrize("stack, families", [
    ("ipv4", ["IPv4"]), ("ipv6", ["IPv6"]), ("dual", ["IPv4", "IPv6"])])
def test_stack_allocates_cluster_ips_and_pod_ips(sandboxes: SandboxPool, stack: str, families: list[str]) -> None:
    sandbox = sandboxes.get(stack)
    namespace = f"stack-{secrets.token_hex(3)}"
    sandbox.kubectl("create", "namespace", namespace)
    sandbox.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
                   "spec": {"ipFamilyPolicy": "PreferDualStack", "ports": [{"port": 80}], "selector": {"a": "b"}}},
                  namespace)
    service = sandbox.get("service", "svc", namespace=namespace)
    assert service["spec"]["ipFamilies"] == families
    assert [family_of(ip) for ip in service["spec"]["clusterIPs"]] == families
    sandbox.apply(vm_manifest("vm"), namespace)
    wait_vm_ready(sandbox, namespace, "vm")
    pod = launcher_pod(sandbox, namespace, sandbox.get("vmi", "vm", namespace=namespace)["metadata"]["uid"])
    assert [family_of(entry["ip"]) for entry in pod["status"]["podIPs"]] == families
    vmi = sandbox.get("vmi", "vm", namespace=namespace)
    assert vmi["status"]["interfaces"][0]["ipAddresses"] == [entry["ip"] for entry in pod["status"]["podIPs"]]
    sandbox.kubectl("delete", "namespace", namespace, "--wait=false")


def family_of(ip: str) -> str:
    return "IPv6" if ":" in ip else "IPv4"


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
