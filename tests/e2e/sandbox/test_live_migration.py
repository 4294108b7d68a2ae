"""Live migration in the sandbox: the real migration controller makes the target pod, the simulated
virt-handler plays source and target, the source launcher finishes; the VMI keeps its uid, the pod changes."""

from __future__ import annotations

import pytest

from tests.e2e.workloads import create_vm, launcher_pod, migrate, wait_for_endpoints, wait_for_sole_endpoint
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox


def start_vm(sandbox: RunningSandbox, namespace: str, name: str, container_disk: str | None = None) -> dict:
    """A running VM labelled `app: NAME` on its template; its VMI."""
    create_vm(sandbox, namespace, vm_manifest(name, template_labels={"app": name}, container_disk=container_disk))
    return sandbox.get("vmi", name, namespace=namespace)


def pod(sandbox: RunningSandbox, namespace: str, name: str) -> dict:
    return sandbox.get("pod", name, namespace=namespace)


def assert_migrated(sandbox: RunningSandbox, namespace: str, before: dict, old_pod: dict) -> dict:
    """The VMI is the same object, now on the target pod's node with its addresses; the old pod finished."""
    vmi = sandbox.get("vmi", before["metadata"]["name"], namespace=namespace)
    new_pod = launcher_pod(sandbox, namespace, vmi["metadata"]["name"])
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
    old_pod = launcher_pod(sandbox, namespace, vmi["metadata"]["name"])
    wait_for_sole_endpoint(sandbox, namespace, "web", old_pod["metadata"]["name"])

    migration = migrate(sandbox, namespace, "web")
    new_pod = assert_migrated(sandbox, namespace, vmi, old_pod)
    assert migration["status"]["migrationState"]["targetPod"] == new_pod["metadata"]["name"]
    assert new_pod["metadata"]["labels"]["kubevirt.io/migrationJobUID"] == migration["metadata"]["uid"]
    expected = {new_pod["metadata"]["name"]: True}
    assert wait_for_endpoints(sandbox, namespace, "web", lambda found: found == expected, timeout=60) == expected
    sandbox.kubectl("wait", "vm/web", "--for=condition=Ready", "--timeout=30s", namespace=namespace)


def test_target_pod_takes_the_vmi_labels_not_the_old_pod_labels(sandbox: RunningSandbox, namespace: str) -> None:
    vmi = start_vm(sandbox, namespace, "labelled")
    old_pod = launcher_pod(sandbox, namespace, vmi["metadata"]["name"])
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
    first_pod = launcher_pod(sandbox, namespace, vmi["metadata"]["name"])

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
