"""The pod start delay: a VM template annotation reaches the launcher pod through KubeVirt (which copies VMI
annotations to the pod) and kwok's pod-start Stage waits that long before the pod runs and turns Ready."""

from __future__ import annotations

import datetime

import pytest

from tests.e2e.sandbox_infrastructure import with_start_delay
from tests.sandbox.infrastructure import START_DELAY_ANNOTATION
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox


def stamp(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def test_template_annotation_delays_the_launcher_pod(sandbox: RunningSandbox, namespace: str) -> None:
    sandbox.apply(with_start_delay(vm_manifest("slow"), 3.0), namespace)
    sandbox.kubectl("wait", "vm/slow", "--for=condition=Ready", "--timeout=90s", namespace=namespace)
    uid = sandbox.get("vmi", "slow", namespace=namespace)["metadata"]["uid"]
    [pod] = sandbox.get("pods", namespace=namespace, selector=f"kubevirt.io/created-by={uid}")["items"]
    assert pod["metadata"]["annotations"][START_DELAY_ANNOTATION] == "3000ms"
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    # Whole seconds on both sides: an interval of at least 3 s shows as at least 3.
    assert (stamp(ready["lastTransitionTime"]) - stamp(pod["metadata"]["creationTimestamp"])).total_seconds() >= 3
    assert (stamp(pod["status"]["startTime"]) - stamp(pod["metadata"]["creationTimestamp"])).total_seconds() >= 3
