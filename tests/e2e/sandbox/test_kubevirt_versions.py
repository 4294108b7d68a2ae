"""`--kubevirt-version`: a sandbox runs KubeVirt v1.6.0's or v1.7.0's own controllers, API and CRDs, and their
launcher pods differ as on real clusters of those releases (1.7 added the `vmi.kubevirt.io/id` label)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.workloads import create_vm, launcher_pod
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox


def kubevirt_version(sandbox: RunningSandbox) -> str:
    """What virt-api says it is (the build's version ldflags)."""
    version = json.loads(sandbox.kubectl("get", "--raw", "/apis/subresources.kubevirt.io/v1/version").stdout)
    return str(version["gitVersion"])


@pytest.mark.parametrize("version, release, has_id", [
    pytest.param("1.7", "v1.7.0", True, marks=pytest.mark.sandbox(kubevirt="1.7"), id="1.7"),
    pytest.param("1.6", "v1.6.0", False, marks=pytest.mark.sandbox(kubevirt="1.6"), id="1.6")])
def test_launcher_pod_id_label_by_kubevirt_version(sandbox: RunningSandbox, namespace: str, version: str,
                                                   release: str, has_id: bool) -> None:
    assert sandbox.kubevirt_version == version
    assert kubevirt_version(sandbox) == release
    kubevirt = sandbox.get("kubevirt", "kubevirt", namespace="kubevirt")
    assert kubevirt["status"]["observedKubeVirtVersion"] == release
    create_vm(sandbox, namespace, vm_manifest("vm"))
    labels = launcher_pod(sandbox, namespace, "vm")["metadata"]["labels"]
    assert labels["kubevirt.io"] == "virt-launcher" and labels["vm.kubevirt.io/name"] == "vm"
    assert ("vmi.kubevirt.io/id" in labels) is has_id
    if has_id:
        assert labels["vmi.kubevirt.io/id"] == "vm"
