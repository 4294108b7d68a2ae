"""`--kubevirt-version`: a sandbox runs KubeVirt v1.6.0's or v1.7.0's own controllers, API and CRDs, and their
launcher pods differ as on real clusters of those releases (1.7 added the `vmi.kubevirt.io/id` label)."""

from __future__ import annotations

import json
import secrets

import pytest

from tests.conftest import RunningSandbox, SandboxPool
from tests.e2e.test_sandbox import launcher_pod, vm_manifest, wait_vm_ready

pytestmark = pytest.mark.sandbox


def running_launcher_pod(sandbox: RunningSandbox) -> dict:
    namespace = f"v-{secrets.token_hex(3)}"
    sandbox.kubectl("create", "namespace", namespace)
    sandbox.apply(vm_manifest("vm"), namespace)
    wait_vm_ready(sandbox, namespace, "vm")
    pod = launcher_pod(sandbox, namespace, sandbox.get("vmi", "vm", namespace=namespace)["metadata"]["uid"])
    sandbox.kubectl("delete", "namespace", namespace, "--wait=false")
    return pod


def kubevirt_version(sandbox: RunningSandbox) -> str:
    """What virt-api says it is (the build's version ldflags)."""
    version = json.loads(sandbox.kubectl("get", "--raw", "/apis/subresources.kubevirt.io/v1/version").stdout)
    return str(version["gitVersion"])


@pytest.mark.parametrize("version, release, has_id", [("1.7", "v1.7.0", True), ("1.6", "v1.6.0", False)])
def test_launcher_pod_id_label_by_kubevirt_version(sandboxes: SandboxPool, version: str, release: str,
                                                   has_id: bool) -> None:
    sandbox = sandboxes.get("ipv4", kubevirt_version=version)
    assert sandbox.kubevirt_version == version
    assert kubevirt_version(sandbox) == release
    kubevirt = sandbox.get("kubevirt", "kubevirt", namespace="kubevirt")
    assert kubevirt["status"]["observedKubeVirtVersion"] == release
    labels = running_launcher_pod(sandbox)["metadata"]["labels"]
    assert labels["kubevirt.io"] == "virt-launcher" and labels["vm.kubevirt.io/name"] == "vm"
    assert ("vmi.kubevirt.io/id" in labels) is has_id
    if has_id:
        assert labels["vmi.kubevirt.io/id"] == "vm"
