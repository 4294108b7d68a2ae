"""Runs at once: writers of different labels never conflict (labels go by server-side apply, one field
manager per exposure), a Service another run made meanwhile is taken as found, and nobody's change is lost."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.plugin_runs import run_plugin
from tests.e2e.workloads import create_vm, template_labels
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox

RUNS = 8


def keep_annotating(sandbox: RunningSandbox, namespace: str, vm: str, stop: threading.Event) -> list[str]:
    """Another client changing the VM's annotations until `stop` (at most 200 changes); the values set."""
    written: list[str] = []
    for count in range(200):
        if stop.is_set():
            break
        value = f"change-{count}"
        sandbox.kubectl("annotate", "vm", vm, f"example.com/churn={value}", "--overwrite", namespace=namespace)
        written.append(value)
    return written


def test_eight_runs_on_one_vm_each_adding_its_own_label_and_service_all_succeed(
        sandbox: RunningSandbox, namespace: str) -> None:
    create_vm(sandbox, namespace, vm_manifest("busy", running=False))
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=RUNS + 1) as pool:
        churn = pool.submit(keep_annotating, sandbox, namespace, "busy", stop)
        runs = [pool.submit(run_plugin, sandbox, "vm", "busy", "-n", namespace, "--name", f"svc-{index}",
                            "--selector", f"run-{index}=yes", "--port", str(8000 + index))
                for index in range(RUNS)]
        results = [run.result() for run in runs]
        stop.set()
        annotations_written = churn.result()
    for result in results:
        assert result.code == 0, result
    labels = template_labels(sandbox, namespace, "busy")
    assert {f"run-{index}": "yes" for index in range(RUNS)}.items() <= labels.items()
    for index in range(RUNS):
        service = sandbox.get("service", f"svc-{index}", namespace=namespace)
        assert service["spec"]["selector"] == {f"run-{index}": "yes"}
    annotations = sandbox.get("vm", "busy", namespace=namespace)["metadata"]["annotations"]
    assert annotations_written and annotations["example.com/churn"] == annotations_written[-1]


def test_two_runs_over_the_same_twenty_vms_at_once_both_succeed(sandbox: RunningSandbox, namespace: str) -> None:
    names = [f"pair-{index:02d}" for index in range(20)]
    manifests = []
    for name in names:
        manifest = vm_manifest(name, running=False)
        manifest["metadata"]["labels"] = {"group": "pair"}
        manifests.append(manifest)
    sandbox.apply({"apiVersion": "v1", "kind": "List", "items": manifests}, namespace)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(run_plugin, sandbox, "vm", "--vm-selector", "group=pair", "-n", namespace, "--port", "22")
                for _ in range(2)]
        results = [run.result() for run in runs]
    for result in results:
        assert result.code == 0, result
        assert result.stdout.splitlines()[-1] == "20 of 20 VirtualMachines exposed"
    services = sandbox.get("services", namespace=namespace, selector="virt-expose.kubevirt.io/vm")["items"]
    assert sorted(s["metadata"]["name"] for s in services) == names
    for name in names:
        assert template_labels(sandbox, namespace, name) == {"kubevirt.io/domain": name}
