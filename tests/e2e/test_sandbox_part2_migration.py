"""Live migration in the sandbox: the real migration controller makes the target pod, the simulated
virt-handler plays source and target, the source launcher finishes; the VMI keeps its uid, the pod changes."""

from __future__ import annotations

import secrets
import time

import pytest
import yaml
from kubernetes import client, config, watch

from tests.conftest import RunningSandbox
from tests.e2e.test_sandbox import launcher_pod, vm_manifest, wait_endpoint, wait_vm_ready

pytestmark = pytest.mark.sandbox


def start_vm(sandbox: RunningSandbox, namespace: str, name: str, container_disk: str | None = None) -> dict:
    manifest = yaml.safe_load(vm_manifest(name))
    if container_disk:  # as the demo seed's VMs boot; the target pod needs the image's digest (imageID)
        spec = manifest["spec"]["template"]["spec"]
        spec["domain"]["devices"]["disks"] = [{"name": "containerdisk", "disk": {"bus": "virtio"}}]
        spec["volumes"] = [{"name": "containerdisk", "containerDisk": {"image": container_disk}}]
    sandbox.apply(manifest, namespace)
    wait_vm_ready(sandbox, namespace, name)
    return sandbox.get("vmi", name, namespace=namespace)


def migrate(sandbox: RunningSandbox, namespace: str, vmi: str) -> dict:
    """Creates a VirtualMachineInstanceMigration, as `virtctl migrate` does, and waits for Succeeded."""
    name = f"{vmi}-{secrets.token_hex(3)}"
    sandbox.apply({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
                   "metadata": {"name": name}, "spec": {"vmiName": vmi}}, namespace)
    sandbox.kubectl("wait", f"vmim/{name}", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=60s",
                    namespace=namespace)
    return sandbox.get("vmim", name, namespace=namespace)


def pod(sandbox: RunningSandbox, namespace: str, name: str) -> dict:
    return sandbox.get("pod", name, namespace=namespace)


def assert_migrated(sandbox: RunningSandbox, namespace: str, before: dict, old_pod: dict) -> dict:
    """The VMI is the same object, now on the target pod's node with its addresses; the old pod finished."""
    vmi = sandbox.get("vmi", before["metadata"]["name"], namespace=namespace)
    new_pod = launcher_pod(sandbox, namespace, vmi["metadata"]["uid"])
    assert vmi["metadata"]["uid"] == before["metadata"]["uid"]
    assert vmi["status"]["phase"] == "Running"
    assert new_pod["metadata"]["uid"] != old_pod["metadata"]["uid"]
    assert vmi["status"]["migrationState"]["completed"] is True
    assert vmi["status"]["migrationState"]["targetPod"] == new_pod["metadata"]["name"]
    assert vmi["status"]["nodeName"] == new_pod["spec"]["nodeName"] != old_pod["spec"]["nodeName"]
    assert vmi["metadata"]["labels"]["kubevirt.io/nodeName"] == new_pod["spec"]["nodeName"]
    assert "kubevirt.io/migrationTargetNodeName" not in vmi["metadata"]["labels"]
    assert vmi["status"]["interfaces"][0]["ipAddress"] == new_pod["status"]["podIP"]
    sandbox.kubectl("wait", f"pod/{old_pod['metadata']['name']}", "--for=jsonpath={.status.phase}=Succeeded",
                    "--timeout=30s", namespace=namespace)
    return new_pod


def test_migration_moves_the_service_endpoint_to_the_new_pod(sandbox: RunningSandbox, namespace: str) -> None:
    vmi = start_vm(sandbox, namespace, "web")
    sandbox.kubectl("create", "service", "clusterip", "web", "--tcp=80:8080", namespace=namespace)
    sandbox.kubectl("set", "selector", "service", "web", "app=web", namespace=namespace)
    old_pod = launcher_pod(sandbox, namespace, vmi["metadata"]["uid"])
    wait_endpoint(sandbox, namespace, "web", old_pod["metadata"]["name"])

    migration = migrate(sandbox, namespace, "web")
    new_pod = assert_migrated(sandbox, namespace, vmi, old_pod)
    assert migration["status"]["migrationState"]["targetPod"] == new_pod["metadata"]["name"]
    assert new_pod["metadata"]["labels"]["kubevirt.io/migrationJobUID"] == migration["metadata"]["uid"]
    assert wait_endpoints(sandbox, namespace, "web", {new_pod["metadata"]["name"]: True})
    sandbox.kubectl("wait", "vm/web", "--for=condition=Ready", "--timeout=30s", namespace=namespace)


def test_target_pod_takes_the_vmi_labels_not_the_old_pod_labels(sandbox: RunningSandbox, namespace: str) -> None:
    vmi = start_vm(sandbox, namespace, "labelled")
    old_pod = launcher_pod(sandbox, namespace, vmi["metadata"]["uid"])
    sandbox.kubectl("label", "vmi", "labelled", "on-vmi=kept", namespace=namespace)
    sandbox.kubectl("label", "pod", old_pod["metadata"]["name"], "on-pod-only=lost", namespace=namespace)

    migrate(sandbox, namespace, "labelled")
    new_pod = assert_migrated(sandbox, namespace, vmi, old_pod)
    assert new_pod["metadata"]["labels"]["on-vmi"] == "kept"
    assert "on-pod-only" not in new_pod["metadata"]["labels"]
    assert new_pod["metadata"]["labels"]["app"] == "labelled"  # the template's, through the VMI
    assert pod(sandbox, namespace, old_pod["metadata"]["name"])["metadata"]["labels"]["on-pod-only"] == "lost"


def test_two_migrations_in_a_row(sandbox: RunningSandbox, namespace: str) -> None:
    vmi = start_vm(sandbox, namespace, "traveller", container_disk="quay.io/containerdisks/fedora:41")
    first_pod = launcher_pod(sandbox, namespace, vmi["metadata"]["uid"])

    migrate(sandbox, namespace, "traveller")
    second_pod = assert_migrated(sandbox, namespace, vmi, first_pod)
    migrate(sandbox, namespace, "traveller")
    third_pod = assert_migrated(sandbox, namespace, vmi, second_pod)

    assert third_pod["spec"]["nodeName"] == first_pod["spec"]["nodeName"]  # two nodes: back where it started
    assert len({p["metadata"]["uid"] for p in (first_pod, second_pod, third_pod)}) == 3
    disk_images = [next(c["image"] for c in p["spec"]["containers"] if c["name"] == "volumecontainerdisk")
                   for p in (first_pod, second_pod, third_pod)]
    assert disk_images[0] == "quay.io/containerdisks/fedora:41"
    assert disk_images[1] == disk_images[2] and disk_images[1].startswith("quay.io/containerdisks/fedora@sha256:")
    migrations = sandbox.get("vmim", namespace=namespace)["items"]
    assert [m["status"]["phase"] for m in migrations] == ["Succeeded", "Succeeded"]


def wait_endpoints(sandbox: RunningSandbox, namespace: str, service: str, expected: dict[str, bool],
                   timeout: float = 60) -> bool:
    """Waits, by a watch on the Service's EndpointSlices, until their endpoints are exactly `expected`
    (pod name -> ready)."""
    api = client.DiscoveryV1Api(config.new_client_from_config(str(sandbox.kubeconfig)))
    selector = f"kubernetes.io/service-name={service}"
    deadline = time.monotonic() + timeout
    while True:
        listed = api.list_namespaced_endpoint_slice(namespace, label_selector=selector)
        endpoints = {e.target_ref.name: bool(e.conditions.ready) for s in listed.items for e in s.endpoints or []}
        if endpoints == expected:
            return True
        remaining = int(deadline - time.monotonic())
        assert remaining > 0, f"endpoints of {service}: {endpoints}, expected {expected}"
        for _ in watch.Watch().stream(api.list_namespaced_endpoint_slice, namespace, label_selector=selector,
                                      resource_version=listed.metadata.resource_version, timeout_seconds=remaining):
            break  # a change: list again
