"""The objects KubeVirt's operator installs, as the sandbox installs them: printed by KubeVirt's own generators
(the `kubevirt-manifests-<version>` program, see kubevirt/v*/cmd/manifests), and the KubeVirt CR with the status
the operator writes.

Each KubeVirt version is a Go module `kubevirt/v<version>/` whose programs build.py names `<program>-<version>`;
the release it pins (go.mod) gives the versions and image names written here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from tests.sandbox.build import binary

HERE = Path(__file__).resolve().parent
NAMESPACE = "kubevirt"
REGISTRY = "quay.io/kubevirt"
# The generator's output is the same for every sandbox but for virt-api's port and KubeVirt's CA: it is made
# once per build of the generator with these placeholders, which each sandbox replaces by its own.
_PLACEHOLDER_PORT = 40961
_PLACEHOLDER_CA = "sandbox: KubeVirt's CA bundle goes here"


def kubevirt_release(version: str) -> str:
    """The KubeVirt release ("v1.7.0") that the Go module for `version` ("1.7") pins."""
    go_mod = HERE / "kubevirt" / f"v{version}" / "go.mod"
    if not go_mod.exists():
        raise ValueError(f"no KubeVirt module for version {version!r} ({go_mod} is missing)")
    match = re.search(r"^\s*kubevirt\.io/kubevirt (v\S+)", go_mod.read_text(), re.MULTILINE)
    if match is None:
        raise ValueError(f"{go_mod} does not require kubevirt.io/kubevirt")
    return match.group(1)


def base_objects(version: str) -> list[dict[str, Any]]:
    """What the operator creates before virt-api runs and is the same in every sandbox: KubeVirt's namespace,
    CRDs, RBAC, priority class and admission policy (etcd_state.py keeps them)."""
    return [namespace_object(), *_generated_objects(version, "base")]


def sandbox_objects(version: str, api_port: int, ca_bundle: bytes) -> list[dict[str, Any]]:
    """What the operator creates before virt-api runs and holds this sandbox's values: KubeVirt's CA ConfigMaps
    and virt-api's Service (ExternalName, to `api_port` on loopback)."""
    replacements: dict[Any, Any] = {_PLACEHOLDER_PORT: api_port, _PLACEHOLDER_CA: ca_bundle.decode()}
    return [_replaced(obj, replacements) for obj in _generated_objects(version, "sandbox")]


def crd_names(version: str) -> list[str]:
    """The names of KubeVirt's CRDs."""
    return [str(name) for name in _generated_objects(version, "crd-names")]


def generator(version: str) -> Path:
    """The program that prints KubeVirt's objects (its path names the build of KubeVirt's module)."""
    return binary(f"kubevirt-manifests-{version}")


def route_objects(version: str, api_url: str, ca_file: Path) -> list[dict[str, Any]]:
    """virt-api's APIServices and webhook configurations for a virt-api at `api_url`, trusting `ca_file`."""
    printed = _generate(version, api_url, ca_file, "--routes")
    return [document for document in yaml.load_all(printed, Loader=yaml.CSafeLoader) if document]


def namespace_object() -> dict[str, Any]:
    # As in KubeVirt's operator manifest: virt-handler and launchers need a privileged namespace.
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": NAMESPACE,
        "labels": {"kubevirt.io": "", "pod-security.kubernetes.io/enforce": "privileged"},
    }}


def _generate(version: str, api_url: str, ca_file: Path, *flags: str) -> bytes:
    command = [str(generator(version)), f"--namespace={NAMESPACE}",
               f"--api-url={api_url}", f"--ca-bundle={ca_file}", *flags]
    return subprocess.run(command, check=True, capture_output=True).stdout


def _generated_objects(version: str, part: str) -> list[Any]:
    """The generator's objects for the placeholders, the `base` part (without them) or the `sandbox` part (with
    them), or the `crd-names`, from the cache beside the generator: 4 MB of YAML, most of it the CRDs' schemas,
    take a second to print and another to parse."""
    parts = ("base", "sandbox", "crd-names")
    cached = {name: generator(version).with_name(f"objects-{NAMESPACE}-{name}.json") for name in parts}
    if not cached[part].exists():
        with tempfile.TemporaryDirectory() as scratch:
            ca_file = Path(scratch) / "ca.crt"
            ca_file.write_text(_PLACEHOLDER_CA)
            printed = _generate(version, f"https://127.0.0.1:{_PLACEHOLDER_PORT}", ca_file)
        objects = [document for document in yaml.load_all(printed, Loader=yaml.CSafeLoader) if document]
        placeholders = {_PLACEHOLDER_PORT, _PLACEHOLDER_CA}
        made = {"base": [obj for obj in objects if not _holds(obj, placeholders)],
                "sandbox": [obj for obj in objects if _holds(obj, placeholders)],
                "crd-names": [obj["metadata"]["name"] for obj in objects if obj["kind"] == "CustomResourceDefinition"]}
        for name in parts:
            partial = cached[name].with_name(f".{cached[name].name}.{os.getpid()}")
            partial.write_text(json.dumps(made[name]))
            partial.rename(cached[name])  # atomic: sandboxes starting side by side may both make it
    return list(json.loads(cached[part].read_bytes()))


def _holds(value: Any, placeholders: set[Any]) -> bool:
    if isinstance(value, dict):
        return any(_holds(item, placeholders) for item in value.values())
    if isinstance(value, list):
        return any(_holds(item, placeholders) for item in value)
    return type(value) in (int, str) and value in placeholders  # not bool, which equals 0 or 1


def _replaced(value: Any, replacements: dict[Any, Any]) -> Any:
    if isinstance(value, dict):
        return {key: _replaced(item, replacements) for key, item in value.items()}
    if isinstance(value, list):
        return [_replaced(item, replacements) for item in value]
    if type(value) in (int, str) and value in replacements:  # not bool, which equals 0 or 1
        return replacements[value]
    return value


def kubevirt_cr() -> dict[str, Any]:
    """The KubeVirt CR of KubeVirt's release manifest."""
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "KubeVirt",
        # No `foregroundDeleteKubeVirt` finalizer: with no operator to remove it, the namespace could never be
        # deleted.
        "metadata": {"name": "kubevirt", "namespace": NAMESPACE, "annotations": {
            "kubevirt.io/latest-observed-api-version": "v1",
            "kubevirt.io/storage-observed-api-version": "v1",
        }},
        "spec": {
            "certificateRotateStrategy": {},
            "configuration": {"developerConfiguration": {"featureGates": []}},
            "customizeComponents": {},
            "imagePullPolicy": "IfNotPresent",
            "workloadUpdateStrategy": {},
        },
    }


def operator_status(release: str, generation: int) -> dict[str, Any]:
    """What virt-operator writes on a finished install (pkg/virt-operator/kubevirt.go): virt-controller and
    virt-api ignore a CR without a phase; without defaultArchitecture the webhooks refuse VMIs."""
    deployment_id = f"sandbox-{release}"
    config = json.dumps({"id": deployment_id, "namespace": NAMESPACE, "registry": REGISTRY,
                         "kubeVirtVersion": release})
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ready = "All components are ready."
    conditions = [
        ("Available", "True", "AllComponentsReady", ready),
        ("Progressing", "False", "AllComponentsReady", ready),
        ("Degraded", "False", "AllComponentsReady", ready),
        ("Created", "True", "AllResourcesCreated", "All resources were created."),
    ]
    return {
        "phase": "Deployed",
        "conditions": [{"type": kind, "status": status, "reason": reason, "message": message,
                        "lastProbeTime": now, "lastTransitionTime": now}
                       for kind, status, reason, message in conditions],
        "defaultArchitecture": "amd64",
        "observedGeneration": generation,
        "operatorVersion": release,
        "observedKubeVirtVersion": release,
        "targetKubeVirtVersion": release,
        "observedKubeVirtRegistry": REGISTRY,
        "targetKubeVirtRegistry": REGISTRY,
        # Equal IDs: the workload updater acts only on a finished (not updating) install.
        "observedDeploymentID": deployment_id,
        "targetDeploymentID": deployment_id,
        "observedDeploymentConfig": config,
        "targetDeploymentConfig": config,
        "outdatedVirtualMachineInstanceWorkloads": 0,
    }


def probe_vm(disks: list[dict[str, Any]]) -> dict[str, Any]:
    """A stopped VM to create with dry run: the webhooks' answer to it shows they are in effect."""
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "metadata": {"name": "sandbox-webhook-probe", "namespace": NAMESPACE},
            "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {
                "devices": {"disks": disks}, "resources": {"requests": {"memory": "64Mi"}}}}}}}
