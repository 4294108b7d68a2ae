"""A running VM on KubeVirt 1.6 (launcher pods without `vmi.kubevirt.io/id`, as on a real 1.6 cluster) is
served at once with no restart, and still served after a live migration and after a restart; with
`--restart=always` it is restarted instead of labelled live."""

from __future__ import annotations

import pytest

from tests.e2e.plugin_runs import audited, run_plugin
from tests.e2e.workloads import (
    create_vm,
    launcher_pod,
    migrate,
    ready_endpoint_pods,
    template_labels,
    vm_subresource,
    wait_for_endpoints,
)
from tests.sandbox.manifests import vm_manifest
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox(kubevirt="1.6")


def ready_pod_besides(sandbox: RunningSandbox, namespace: str, service: str, besides: list[str]) -> str:
    """Waits until the Service has a ready endpoint on a pod not in `besides`; that pod's name."""
    endpoints = wait_for_endpoints(sandbox, namespace, service,
                                   lambda found: any(ready and pod not in besides for pod, ready in found.items()))
    return next(pod for pod, ready in endpoints.items() if ready and pod not in besides)



def test_kubevirt_1_6_running_vm_serves_at_once_then_after_migration_and_restart(
        sandbox: RunningSandbox, namespace: str) -> None:
    create_vm(sandbox, namespace, vm_manifest("legacy", ports=[{"name": "http", "port": 80}]))
    pod = launcher_pod(sandbox, namespace, "legacy")
    assert "vmi.kubevirt.io/id" not in pod["metadata"]["labels"]  # as on a real 1.6 cluster
    counter = sandbox.request_counter()

    result = run_plugin(sandbox, "vm", "legacy", "-n", namespace)  # default flags: no --port, --restart
    assert result.code == 0, result
    name = pod["metadata"]["name"]
    lines = result.stdout.splitlines()
    assert lines[:4] == ["service/legacy created", "virtualmachine.kubevirt.io/legacy labeled",
                         "virtualmachineinstance.kubevirt.io/legacy labeled", f"pod/{name} labeled"], result
    assert lines[4].startswith(f"service/legacy verified: 1 ready endpoint {pod['status']['podIP']}:"), result
    assert audited(counter) == [
        "get virtualmachines", "get virtualmachineinstances", "list pods", "get services",
        "list networkpolicies", "create services", "patch virtualmachines", "patch virtualmachineinstances",
        "patch pods", "watch endpointslices"]
    label = {"kubevirt.io/domain": "legacy"}
    assert sandbox.get("service", "legacy", namespace=namespace)["spec"]["selector"] == label
    assert template_labels(sandbox, namespace, "legacy").items() >= label.items()
    assert sandbox.get("vmi", "legacy", namespace=namespace)["metadata"]["labels"].items() >= label.items()
    live = launcher_pod(sandbox, namespace, "legacy")
    assert live["metadata"]["uid"] == pod["metadata"]["uid"]  # no restart
    assert live["metadata"]["labels"].items() >= label.items()
    assert ready_endpoint_pods(sandbox, namespace, "legacy") == [name]

    # live migration: the target pod is built from the VMI's labels, so it carries the selector
    migration = migrate(sandbox, namespace, "legacy")
    target = migration["status"]["migrationState"]["targetPod"]
    assert target != name
    sandbox.kubectl("wait", f"pod/{name}", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=60s",
                    namespace=namespace)
    migrated = launcher_pod(sandbox, namespace, "legacy")
    assert migrated["metadata"]["name"] == target
    assert migrated["metadata"]["labels"].items() >= label.items()
    assert ready_pod_besides(sandbox, namespace, "legacy", [name]) == target

    # restart: the new VMI and pod come from the VM's template, which carries the label
    vm_subresource(sandbox, namespace, "legacy", "restart")
    new_name = ready_pod_besides(sandbox, namespace, "legacy", [name, target])
    restarted = launcher_pod(sandbox, namespace, "legacy")
    assert restarted["metadata"]["name"] == new_name
    assert restarted["metadata"]["uid"] not in (pod["metadata"]["uid"], migrated["metadata"]["uid"])
    assert restarted["metadata"]["labels"].items() >= label.items()
    assert restarted["metadata"]["name"] in ready_endpoint_pods(sandbox, namespace, "legacy")

    # and the same command again changes nothing
    counter.start()
    again = run_plugin(sandbox, "vm", "legacy", "-n", namespace)
    assert again.code == 0, again
    assert again.stdout.splitlines()[0] == "service/legacy unchanged"
    assert [r for r in audited(counter) if r.split()[0] not in ("get", "list", "watch")] == []


def test_kubevirt_1_6_restart_always_restarts_instead_of_labelling_live(sandbox: RunningSandbox,
                                                                          namespace: str) -> None:
    create_vm(sandbox, namespace, vm_manifest("bouncer"))
    pod = launcher_pod(sandbox, namespace, "bouncer")
    result = run_plugin(sandbox, "vm", "bouncer", "-n", namespace, "--port", "80", "--restart=always")
    assert result.code == 0, result
    assert result.stdout.splitlines()[:3] == [
        "service/bouncer created", "virtualmachine.kubevirt.io/bouncer labeled",
        "virtualmachine.kubevirt.io/bouncer restarted"]
    assert "PATCH virtualmachineinstances" not in result.verbs() and "PATCH pods" not in result.verbs()
    assert result.verbs()[-2:] == ["PUT restart", "WATCH endpointslices"]
    new_pod = launcher_pod(sandbox, namespace, "bouncer")
    assert new_pod["metadata"]["uid"] != pod["metadata"]["uid"]
    assert new_pod["metadata"]["labels"]["kubevirt.io/domain"] == "bouncer"
    assert f"ready endpoint {new_pod['status']['podIP']}:80" in result.stdout
    assert ready_endpoint_pods(sandbox, namespace, "bouncer") == [new_pod["metadata"]["name"]]
