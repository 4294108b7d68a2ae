"""virt-handler's part of a live migration, source and target at once (pkg/virt-handler/migration-*.go).

The real migration controller creates the target pod and, once it runs, hands the migration off: it
replaces `status.migrationState` with the migration's UID, source and target node and pod, and labels the
VMI `kubevirt.io/migrationTargetNodeName`. The two handlers would then prepare the target, stream the
memory and switch over; with no domain behind it, the simulation reports the whole of that in one update,
as the target handler finally leaves it (migration-target.go: updateStatus, ackMigrationCompletion,
finalCleanup): the target's address, domain detected and ready, start and end timestamps, `completed`; the
VMI on the target node (status and `kubevirt.io/nodeName` label), the target label removed, the interfaces
with the target pod's addresses (the target's pod-interface cache), unix migration transport. The source
launcher's domain is gone then, so its process exits: its pod finishes (the kubelet's part, kwok's).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any, Callable

NODE_LABEL = "kubevirt.io/nodeName"
TARGET_NODE_LABEL = "kubevirt.io/migrationTargetNodeName"
LOG = logging.getLogger("virt-handler")

Update = Callable[[dict], bool]
Pods = Callable[[dict], list[dict]]
FinishPod = Callable[[dict], None]
Interfaces = Callable[[dict, dict], list[dict[str, Any]]]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def handed_off(state: dict) -> bool:
    """The controller handed the migration to the handlers, which have not reported on it yet."""
    return bool(state.get("targetNode") and state.get("targetPod") and state.get("migrationUid")
                and not state.get("targetNodeAddress") and not state.get("completed") and not state.get("failed"))


class MigrationPlayer:
    def __init__(self, update: Update, launcher_pods: Pods, finish_pod: FinishPod, interfaces: Interfaces) -> None:
        self.update, self.launcher_pods, self.finish_pod = update, launcher_pods, finish_pod
        self.interfaces = interfaces

    def play(self, vmi: dict) -> None:
        state = vmi["status"].get("migrationState") or {}
        if not handed_off(state):
            return
        pods = self.launcher_pods(vmi)
        target = next((p for p in pods if p["metadata"]["name"] == state["targetPod"]), None)
        if target is None or (target.get("status") or {}).get("phase") != "Running":
            return  # the watch brings the VMI again; the controller hands off only to a running pod
        if self.update(self.completed(vmi, state, target)):
            meta = vmi["metadata"]
            LOG.info("%s/%s migrated from %s to %s", meta["namespace"], meta["name"], state.get("sourceNode"),
                     state["targetNode"])
            self.finish_sources(pods, state["targetPod"])

    def completed(self, vmi: dict, state: dict, target: dict) -> dict:
        stamp, node = _now(), state["targetNode"]
        state.update(targetNodeAddress=target["status"].get("hostIP", ""), targetNodeDomainDetected=True,
                     targetNodeDomainReadyTimestamp=stamp, startTimestamp=stamp, endTimestamp=stamp,
                     mode="PreCopy", completed=True)
        # Only non-empty values: the next handoff replaces migrationState with a JSON patch whose `test`
        # compares it with the controller's Go struct, where empty fields are omitted (`failed: false` is not).
        status = vmi["status"]
        status["nodeName"] = node
        status["migrationTransport"] = "Unix"
        if target["status"].get("podIPs"):
            status["interfaces"] = self.interfaces(vmi, target)
        labels = vmi["metadata"].setdefault("labels", {})
        labels[NODE_LABEL] = node
        labels.pop(TARGET_NODE_LABEL, None)
        return vmi

    def finish_sources(self, pods: list[dict], target_pod: str) -> None:
        """Every other running launcher pod of the VMI is the migration's source: its domain is gone."""
        for pod in pods:
            running = (pod.get("status") or {}).get("phase") == "Running"
            if running and pod["metadata"]["name"] != target_pod and not pod["metadata"].get("deletionTimestamp"):
                self.finish_pod(pod)
