"""Simulated nodes and kubelets: Node objects as KubeVirt schedules on, kept alive and played by kwok."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.sandbox.apiclient import create
from tests.sandbox.build import binary
from tests.sandbox.process import Child, Supervisor, free_port

HERE = Path(__file__).resolve().parent
NODE_COUNT = 2
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
KUBELET_LABELS = {"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux"}
# What virt-controller's launcher pods ask for (nodeSelector and device requests), as virt-handler's
# device plugins and node labeller would advertise them on a real KubeVirt node.
KUBEVIRT_NODE_LABELS = {
    "kubevirt.io/schedulable": "true",
    "cpu-vendor.node.kubevirt.io/GenuineIntel": "true",
    "machine-type.node.kubevirt.io/q35": "true",
}
KUBEVIRT_DEVICES = {"devices.kubevirt.io/kvm": "1k", "devices.kubevirt.io/tun": "1k",
                    "devices.kubevirt.io/vhost-net": "1k"}


def node_name(index: int) -> str:
    return f"node-{index}"


def node_pod_cidrs(pod_cidrs: list[str], index: int) -> list[str]:
    """The node's share of each cluster CIDR: the index-th /24 (IPv4) or /64 (IPv6)."""
    shares = []
    for cidr in pod_cidrs:
        network = ipaddress.ip_network(cidr)
        prefix = 24 if network.version == 4 else 64
        first = network.network_address + index * (1 << (network.max_prefixlen - prefix))
        shares.append(f"{first}/{prefix}")
    return shares


def node_address(family: int, index: int) -> str:
    # Documentation-only addresses: nothing is ever sent to them, they only fill Node.status.addresses.
    return f"192.0.2.{10 + index}" if family == 4 else f"2001:db8::{10 + index:x}"


def node_manifest(index: int, pod_cidrs: list[str], kubevirt: bool = True) -> dict[str, Any]:
    """A Node as kwok plays it; with `kubevirt`, the labels and devices KubeVirt's node agent would add."""
    name = node_name(index)
    family = ipaddress.ip_network(pod_cidrs[0]).version
    # pods: OpenShift's default maxPods (a run's tests leave their namespaces, and pods, in place)
    capacity = {"cpu": "32", "memory": "256Gi", "ephemeral-storage": "500Gi", "pods": "250",
                **(KUBEVIRT_DEVICES if kubevirt else {})}
    kubevirt_labels = KUBEVIRT_NODE_LABELS if kubevirt else {}
    cidrs = node_pod_cidrs(pod_cidrs, index)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"kubernetes.io/hostname": name, "type": "kwok", **KUBELET_LABELS, **kubevirt_labels},
        },
        "spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs},
        "status": {
            "addresses": [{"type": "InternalIP", "address": node_address(family, index)},
                          {"type": "Hostname", "address": name}],
            "capacity": capacity,
            "allocatable": capacity,
        },
    }


def stages(pod_cidrs: list[str]) -> str:
    """kwok's Stage configuration for this cluster's families (see kwok-stages.yaml)."""
    second = ""
    if len(pod_cidrs) == 2:
        groups = ipaddress.ip_network(pod_cidrs[1]).network_address.exploded.split(":")[:3]
        prefix = ":".join(group.lstrip("0") or "0" for group in groups)
        # The IPv6 twin of the IPv4 address, in the node's IPv6 /64 (same index as its IPv4 /24).
        second = ("- ip: {{ printf \"" + prefix + ":%x::%x\" (atoi (index $octets 2)) "
                  "(atoi (index $octets 3)) | Quote }}")
    return (HERE / "kwok-stages.yaml").read_text().replace("@SECOND_POD_IP@", second)


def create_nodes(api: client.ApiClient, pod_cidrs: list[str], kubevirt: bool = True) -> list[str]:
    """Creates the Node objects (with their status: kwok keeps it up to date from then on)."""
    manifests = [node_manifest(i, pod_cidrs, kubevirt) for i in range(1, NODE_COUNT + 1)]
    for manifest in manifests:
        create(api, manifest)
    return [m["metadata"]["name"] for m in manifests]


def start_kwok(supervisor: Supervisor, workdir: Path, kubeconfig: Path, pod_cidrs: list[str]) -> Child:
    config = workdir / "kwok.yaml"
    config.write_text(stages(pod_cidrs))
    return supervisor.spawn("kwok", [
        str(binary("kwok")), "--config", str(config), "--kubeconfig", str(kubeconfig),
        f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake",
        "--cidr", node_pod_cidrs(pod_cidrs, 0)[0],
        "--node-lease-duration-seconds", "40",
        "--server-address", f"127.0.0.1:{free_port()}",
    ])
