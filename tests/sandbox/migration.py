"""virt-handler's part of a live migration, source and target at once (pkg/virt-handler/migration-*.go).

The real migration controller creates the target pod and, once it runs, hands the migration off by
writing `status.migrationState` with the target node. The two handlers would then prepare the target,
stream the memory and switch over; with no domain behind it, the simulation reports the whole of that in
one update, as the target handler finally leaves it: the target's address and domain ready, start and end
timestamps, `completed`, and the VMI now on the target node. The source launcher then exits.
"""

from __future__ import annotations

import datetime
from typing import Callable

NODE_LABEL = "kubevirt.io/nodeName"
TARGET_NODE_LABEL = "kubevirt.io/migrationTargetNodeName"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


class MigrationPlayer:
    def __init__(self, update: Callable[[dict], None], launcher_pods: Callable[[dict], list[dict]],
                 finish_pod: Callable[[dict], None]) -> None:
        self.update, self.launcher_pods, self.finish_pod = update, launcher_pods, finish_pod

    def play(self, vmi: dict) -> None:
        state = vmi["status"].get("migrationState") or {}
        if not state.get("targetNode"):
            return
        if state.get("completed"):
            self.finish_source(vmi, state)
        elif not state.get("targetNodeAddress"):
            self.complete(vmi, state)

    def complete(self, vmi: dict, state: dict) -> None:
        stamp, target = _now(), state["targetNode"]
        state.update(targetNodeAddress="127.0.0.1", targetNodeDomainDetected=True,
                     targetNodeDomainReadyTimestamp=stamp, startTimestamp=stamp, endTimestamp=stamp,
                     completed=True, failed=False)
        vmi["status"]["nodeName"] = target
        labels = vmi["metadata"].setdefault("labels", {})
        labels[NODE_LABEL] = target
        labels.pop(TARGET_NODE_LABEL, None)
        self.update(vmi)

    def finish_source(self, vmi: dict, state: dict) -> None:
        for pod in self.launcher_pods(vmi):
            on_source = pod["spec"].get("nodeName") == state.get("sourceNode") != state["targetNode"]
            if on_source and pod.get("status", {}).get("phase") == "Running":
                self.finish_pod(pod)
