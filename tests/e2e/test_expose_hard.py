"""Issue 6's hardest promises end to end: a running VM on KubeVirt 1.6 (launcher pods without
`vmi.kubevirt.io/id`) served at once with no restart and still served after a live migration and after a
restart; `--restart=always` there; and the API requests of the main scenarios, counted from the API
server's audit log (what the cluster actually served, not what the plugin says it sent)."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from typing import Any

import pytest
from kubernetes import client, config, watch

from tests.conftest import RequestCounter, RunningSandbox, SandboxPool, request_counter
from tests.e2e.conftest import (
    create_vm,
    fresh_namespace,
    launcher_pod,
    ready_endpoint_pods,
    run_plugin,
    seed_document,
    template_labels,
    vm_manifest,
)

pytestmark = pytest.mark.sandbox

PLUGIN_AGENT = "virt-expose/"
SEED_FLAGS = ("--name", "example-service", "--selector", "special=key", "--type", "NodePort", "--port", "80",
              "--target-port", "9376", "--node-port", "30000")


# -- helpers ---------------------------------------------------------------------------------------------

def wait_ready_endpoint(sandbox: RunningSandbox, namespace: str, service: str, *,
                        besides: Collection[str] = (), timeout: int = 90) -> str:
    """Watches the Service's EndpointSlices until one has a ready endpoint on a pod not in `besides`; that
    pod's name."""
    # EndpointSlices as plain objects: the typed client refuses a slice without endpoints
    api = client.CustomObjectsApi(config.new_client_from_config(str(sandbox.kubeconfig)))
    where = {"group": "discovery.k8s.io", "version": "v1", "namespace": namespace, "plural": "endpointslices",
             "label_selector": f"kubernetes.io/service-name={service}"}

    def fresh(slices: Collection[dict[str, Any]]) -> list[str]:
        return [e["targetRef"]["name"] for s in slices for e in s.get("endpoints") or []
                if (e.get("conditions") or {}).get("ready") and "targetRef" in e
                and e["targetRef"]["name"] not in besides]

    listed = api.list_namespaced_custom_object(**where)
    current = {s["metadata"]["name"]: s for s in listed["items"]}
    found = fresh(current.values())
    if not found:
        for event in watch.Watch().stream(api.list_namespaced_custom_object, **where, timeout_seconds=timeout,
                                          resource_version=listed["metadata"]["resourceVersion"]):
            current.pop(event["object"]["metadata"]["name"], None)
            if event["type"] != "DELETED":
                current[event["object"]["metadata"]["name"]] = event["object"]
            found = fresh(current.values())
            if found:
                break
    assert found, f"no ready endpoint of {service} besides {list(besides)} within {timeout}s"
    return found[0]


def migrate(sandbox: RunningSandbox, namespace: str, vmi: str) -> dict[str, Any]:
    """A VirtualMachineInstanceMigration, as `virtctl migrate` makes it, waited for until Succeeded."""
    name = f"{vmi}-{secrets.token_hex(3)}"
    sandbox.apply({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
                   "metadata": {"name": name}, "spec": {"vmiName": vmi}}, namespace)
    sandbox.kubectl("wait", f"vmim/{name}", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=90s",
                    namespace=namespace)
    return sandbox.get("vmim", name, namespace=namespace)


def restart(sandbox: RunningSandbox, namespace: str, vm: str) -> None:
    """`virtctl restart`: PUT on virt-api's restart subresource."""
    sandbox.kubectl("replace", "--raw", f"/apis/subresources.kubevirt.io/v1/namespaces/{namespace}/"
                    f"virtualmachines/{vm}/restart", "-f", "-", input="{}")


def audited(counter: RequestCounter, since: Any = None) -> list[str]:
    """The plugin's requests as the audit log has them: `get virtualmachines`, `watch endpointslices`,
    `update virtualmachines/restart`."""
    found = []
    for request in counter.requests(user_agent=PLUGIN_AGENT, since=since):
        parts = [part for part in request.path.split("/") if part]
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            rest = rest[2:]
        resource = rest[0] + (f"/{rest[2]}" if len(rest) == 3 else "")
        found.append(f"{request.verb} {resource}")
    return found


# -- KubeVirt 1.6: pods without vmi.kubevirt.io/id -------------------------------------------------------

def test_kubevirt_1_6_running_vm_serves_at_once_then_after_migration_and_restart(sandboxes: SandboxPool) -> None:
    sandbox = sandboxes.get("ipv4", kubevirt_version="1.6")
    with fresh_namespace(sandbox, "kv16") as namespace:
        create_vm(sandbox, namespace, vm_manifest("legacy", ports=[{"name": "http", "port": 80}]))
        pod = launcher_pod(sandbox, namespace, "legacy")
        assert "vmi.kubevirt.io/id" not in pod["metadata"]["labels"]  # as on a real 1.6 cluster
        counter = request_counter(sandbox)

        result = run_plugin(sandbox, "vm", "legacy", "-n", namespace)  # default flags: no --port, --restart
        assert result.code == 0, result
        name = pod["metadata"]["name"]
        lines = result.stdout.splitlines()
        assert lines[:4] == ["virtualmachine.kubevirt.io/legacy labeled",
                             "virtualmachineinstance.kubevirt.io/legacy labeled", f"pod/{name} labeled",
                             "service/legacy created"], result
        assert lines[4].startswith(f"service/legacy verified: 1 ready endpoint {pod['status']['podIP']}:"), result
        assert audited(counter) == [
            "get virtualmachines", "get virtualmachineinstances", "list pods", "get services",
            "list networkpolicies", "patch virtualmachines", "patch virtualmachineinstances", "patch pods",
            "create services", "watch endpointslices"]
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
        assert wait_ready_endpoint(sandbox, namespace, "legacy", besides=[name]) == target

        # restart: the new VMI and pod come from the VM's template, which carries the label
        restart(sandbox, namespace, "legacy")
        new_name = wait_ready_endpoint(sandbox, namespace, "legacy", besides=[name, target])
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


def test_kubevirt_1_6_restart_always_restarts_instead_of_labelling_live(sandboxes: SandboxPool) -> None:
    sandbox = sandboxes.get("ipv4", kubevirt_version="1.6")
    with fresh_namespace(sandbox, "kv16") as namespace:
        create_vm(sandbox, namespace, vm_manifest("bouncer"))
        pod = launcher_pod(sandbox, namespace, "bouncer")
        result = run_plugin(sandbox, "vm", "bouncer", "-n", namespace, "--port", "80", "--restart=always")
        assert result.code == 0, result
        assert result.stdout.splitlines()[:3] == [
            "virtualmachine.kubevirt.io/bouncer labeled", "service/bouncer created",
            "virtualmachine.kubevirt.io/bouncer restarted"]
        assert "PATCH virtualmachineinstances" not in result.verbs() and "PATCH pods" not in result.verbs()
        assert result.verbs()[-2:] == ["PUT restart", "WATCH endpointslices"]
        new_pod = launcher_pod(sandbox, namespace, "bouncer")
        assert new_pod["metadata"]["uid"] != pod["metadata"]["uid"]
        assert new_pod["metadata"]["labels"]["kubevirt.io/domain"] == "bouncer"
        assert f"ready endpoint {new_pod['status']['podIP']}:80" in result.stdout
        assert ready_endpoint_pods(sandbox, namespace, "bouncer") == [new_pod["metadata"]["name"]]


# -- API requests, from the audit log --------------------------------------------------------------------

def test_seed_scenario_requests_on_a_stopped_vm_and_its_re_run(
        sandbox: RunningSandbox, namespace: str, requests_made: RequestCounter) -> None:
    create_vm(sandbox, namespace, seed_document("example-vm"))
    requests_made.start()
    try:
        first = run_plugin(sandbox, "vm", "example-vm", "-n", namespace, *SEED_FLAGS, verbose=False)
        assert first.code == 0, first
        served = audited(requests_made)
        assert served == ["get virtualmachines", "get services", "list networkpolicies", "create services",
                          "patch virtualmachines", "list nodes"]  # the nodes: addresses for the summary

        requests_made.start()
        again = run_plugin(sandbox, "vm", "example-vm", "-n", namespace, *SEED_FLAGS, verbose=False)
        assert again.code == 0, again
        assert audited(requests_made) == ["get virtualmachines", "get services", "list networkpolicies", "list nodes"]
    finally:  # node port 30000 is one for the whole cluster: free it now, not with the namespace, later
        sandbox.kubectl("delete", "service", "example-service", "--ignore-not-found", namespace=namespace)


def test_running_vm_on_kubevirt_1_7_with_default_flags_is_verified_by_one_watch(
        sandbox: RunningSandbox, namespace: str, requests_made: RequestCounter) -> None:
    create_vm(sandbox, namespace, vm_manifest("counted", ports=[{"name": "http", "port": 80}]))
    requests_made.start()
    result = run_plugin(sandbox, "vm", "counted", "-n", namespace, verbose=False)
    assert result.code == 0, result
    served = audited(requests_made)
    assert served == ["get virtualmachines", "get virtualmachineinstances", "list pods", "get services",
                      "list networkpolicies", "create services", "watch endpointslices"]
    assert served.count("watch endpointslices") == 1
    reads = [r for r in served if r.split()[0] in ("get", "list")]
    assert len(reads) == len(set(reads))  # no polling: no read repeated
