"""VirtualMachine manifests: the one builder the end-to-end tests and the bench use, and the demo seed's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SEED = Path(__file__).resolve().parent / "seed-demo.yaml"
SEED_NAMESPACE = "example-namespace"  # the seed's VMs' namespace, and the sandbox kubeconfig's


def vm_manifest(name: str, *, running: bool = True, template_labels: dict[str, str] | None = None,
                ports: list[dict[str, Any]] | None = None, container_disk: str | None = None) -> dict[str, Any]:
    """A small VM on the pod network (masquerade), optionally declaring `ports` on its interface and booting
    from a container disk (as the seed's VMs do; its target pod in a migration needs the image's digest)."""
    interface: dict[str, Any] = {"name": "default", "masquerade": {}}
    if ports:
        interface["ports"] = ports
    devices: dict[str, Any] = {"interfaces": [interface]}
    spec: dict[str, Any] = {"domain": {"devices": devices, "resources": {"requests": {"memory": "128Mi"}}},
                            "networks": [{"name": "default", "pod": {}}]}
    if container_disk:
        devices["disks"] = [{"name": "containerdisk", "disk": {"bus": "virtio"}}]
        spec["volumes"] = [{"name": "containerdisk", "containerDisk": {"image": container_disk}}]
    template = {"metadata": {"labels": dict(template_labels)} if template_labels else {}, "spec": spec}
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name},
            "spec": {"runStrategy": "Always" if running else "Halted", "template": template}}


def seed_document(name: str) -> dict[str, Any]:
    """One object of the demo seed (tests/sandbox/seed-demo.yaml), without its namespace."""
    with open(SEED) as stream:
        for document in yaml.safe_load_all(stream):
            if document and document["metadata"]["name"] == name:
                document["metadata"].pop("namespace", None)
                return dict(document)
    raise KeyError(name)
