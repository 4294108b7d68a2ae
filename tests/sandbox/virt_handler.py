"""The simulated virt-handler: what KubeVirt's node agent writes on a VMI, with no hypervisor behind it.

It follows `pkg/virt-handler/vm.go` (KubeVirt v1.7.0): the agent on the VMI's node sees a VMI that
virt-controller moved to Scheduled, starts the domain and updates the VMI (a PUT, as `updateVMIStatus`
does; its role may update, list and watch VMIs, not get them) with the phase Running and its transition
timestamp, the SELinux context ("none" where SELinux is off), the interfaces with the pod's IP addresses
(the pod-interface cache that virt-handler reads holds the pod's IPs), the migration conditions and method.
When a VMI is deleted it shuts the domain down and reports Succeeded; the launcher's process then exits,
which is the kubelet's (kwok's) part: it is told through an annotation its pod Stage waits for.

Run as `python -m tests.sandbox.virt_handler --kubeconfig HANDLER --observer-kubeconfig ADMIN`; the handler
kubeconfig is the `kubevirt-handler` ServiceAccount's, the observer reads pods as the node would see them.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import logging
import sys
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.sandbox.informer import Informer, api_client, raw
from tests.sandbox.migration import MigrationPlayer

LOG = logging.getLogger("virt-handler")
GROUP, VERSION, VMIS = "kubevirt.io", "v1", "virtualmachineinstances"
EXITED_ANNOTATION = "sandbox.virt-expose.io/exited"
USER_AGENT = "sandbox-virt-handler (simulated)"
FINAL_PHASES = {"Succeeded", "Failed"}


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def mac_for(vmi_uid: str, interface: str) -> str:
    digest = hashlib.sha256(f"{vmi_uid}/{interface}".encode()).hexdigest()
    return "02:" + ":".join(digest[i:i + 2] for i in range(0, 10, 2))


def pod_network_interface(vmi: dict) -> str | None:
    spec = vmi["spec"]
    for network in spec.get("networks") or []:
        if "pod" in network:
            return str(network["name"])
    return None


def interface_statuses(vmi: dict, pod: dict) -> list[dict[str, Any]]:
    """One status per interface in the spec; the pod network's carries the pod's IPs."""
    pod_ips = [entry["ip"] for entry in pod.get("status", {}).get("podIPs") or []]
    on_pod_network = pod_network_interface(vmi)
    statuses = []
    for iface in vmi["spec"]["domain"]["devices"].get("interfaces") or []:
        status: dict[str, Any] = {
            "name": iface["name"], "mac": iface.get("macAddress") or mac_for(vmi["metadata"]["uid"], iface["name"]),
            "infoSource": "domain", "queueCount": 1, "linkState": "up",
        }
        if iface["name"] == on_pod_network and pod_ips:
            status.update(ipAddress=pod_ips[0], ipAddresses=pod_ips, podInterfaceName="eth0")
        statuses.append(status)
    return statuses


def set_condition(status: dict, condition: dict) -> None:
    others = [c for c in status.get("conditions") or [] if c["type"] != condition["type"]]
    status["conditions"] = [*others, condition]


def mark_phase(status: dict, phase: str) -> None:
    status["phase"] = phase
    stamps = status.setdefault("phaseTransitionTimestamps", [])
    stamps.append({"phase": phase, "phaseTransitionTimestamp": now()})


class VirtHandler:
    def __init__(self, handler: client.ApiClient, observer: client.ApiClient) -> None:
        self.vmis = client.CustomObjectsApi(handler)
        self.pods = client.CoreV1Api(observer)
        self.migrations = MigrationPlayer(self.update, self.launcher_pods, self.finish_pod, interface_statuses)

    def launcher_pods(self, vmi: dict) -> list[dict]:
        selector = f"kubevirt.io/created-by={vmi['metadata']['uid']}"
        found = self.pods.list_namespaced_pod(vmi["metadata"]["namespace"], label_selector=selector,
                                              _preload_content=False)
        return list(raw(found)["items"])

    def finish_pod(self, pod: dict) -> None:
        """The launcher's process exits once its domain is gone; kwok (the kubelet) then finishes the pod."""
        meta = pod["metadata"]
        if EXITED_ANNOTATION in (meta.get("annotations") or {}):
            return
        try:
            self.pods.patch_namespaced_pod(meta["name"], meta["namespace"],
                                           {"metadata": {"annotations": {EXITED_ANNOTATION: now()}}})
        except ApiException as error:
            if error.status != 404:  # deleted meanwhile (its namespace, say): nothing left to finish
                raise

    def update(self, vmi: dict) -> bool:
        """PUTs the VMI; False if it changed or went away meanwhile (the watch brings the newer one)."""
        meta = vmi["metadata"]
        try:
            self.vmis.replace_namespaced_custom_object(GROUP, VERSION, meta["namespace"], VMIS, meta["name"], vmi)
        except ApiException as error:
            if error.status not in (404, 409):
                raise
            return False
        return True

    def handle_safely(self, vmi: dict) -> None:
        """Handles a VMI; an API error on one (say, its pod went away meanwhile) is logged, and the VMI's
        next event tries again, as virt-handler's work queue retries."""
        try:
            self.handle(vmi)
        except ApiException as error:
            meta = vmi["metadata"]
            LOG.warning("%s/%s: %s %s", meta.get("namespace"), meta.get("name"), error.status, error.reason)

    def handle(self, vmi: dict) -> None:
        status = vmi.setdefault("status", {})
        phase = status.get("phase", "")
        if vmi["metadata"].get("deletionTimestamp"):
            self.shut_down(vmi, phase)
        elif phase == "Scheduled" and status.get("nodeName"):
            self.start(vmi)
        elif phase == "Running":
            self.migrations.play(vmi)

    def start(self, vmi: dict) -> None:
        pods = [p for p in self.launcher_pods(vmi) if p["spec"].get("nodeName") == vmi["status"]["nodeName"]
                and p.get("status", {}).get("phase") == "Running"]
        if not pods:
            return
        status = vmi["status"]
        mark_phase(status, "Running")
        status["selinuxContext"] = "none"
        status["interfaces"] = interface_statuses(vmi, pods[0])
        status["migrationMethod"] = "LiveMigration"
        status.setdefault("guestOSInfo", {})
        set_condition(status, {"type": "LiveMigratable", "status": "True", "lastProbeTime": None,
                               "lastTransitionTime": None})
        set_condition(status, {"type": "StorageLiveMigratable", "status": "True", "lastProbeTime": None,
                               "lastTransitionTime": None})
        LOG.info("%s/%s Running on %s", vmi["metadata"]["namespace"], vmi["metadata"]["name"],
                 status["nodeName"])
        self.update(vmi)

    def shut_down(self, vmi: dict, phase: str) -> None:
        if phase not in FINAL_PHASES:
            mark_phase(vmi["status"], "Succeeded")
            LOG.info("%s/%s Succeeded", vmi["metadata"]["namespace"], vmi["metadata"]["name"])
            self.update(vmi)
        for pod in self.launcher_pods(vmi):
            if pod.get("status", {}).get("phase") == "Running":
                self.finish_pod(pod)

    def on_vmi(self, kind: str, vmi: dict) -> None:
        if kind != "DELETED":
            self.handle_safely(vmi)

    def run(self) -> None:
        Informer(self.on_vmi, self.vmis.list_cluster_custom_object, GROUP, VERSION, VMIS).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True, help="the kubevirt-handler ServiceAccount's")
    parser.add_argument("--observer-kubeconfig", type=Path, required=True, help="reads and annotates launcher pods")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    VirtHandler(api_client(args.kubeconfig, USER_AGENT), api_client(args.observer_kubeconfig, USER_AGENT)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
