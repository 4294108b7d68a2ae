"""The API requests of the main scenarios, counted from the API server's audit log (what the cluster actually
served, not what the plugin says it sent): at most five on a stopped VM and three when re-run; a running VM
verified by one watch, with no read repeated."""

from __future__ import annotations

import pytest

from tests.e2e.plugin_runs import SEED_FLAGS, audited, run_plugin
from tests.e2e.workloads import create_vm
from tests.sandbox.audit import RequestCounter
from tests.sandbox.manifests import seed_document, vm_manifest
from tests.sandbox.running import RunningSandbox

pytestmark = pytest.mark.sandbox


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
        assert audited(requests_made) == ["get virtualmachines", "get services", "list networkpolicies",
                                          "list nodes"]
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
